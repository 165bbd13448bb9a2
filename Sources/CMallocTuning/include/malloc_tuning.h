#ifndef MALLOC_TUNING_H
#define MALLOC_TUNING_H

// glibc's malloc.h is not part of Swift's Glibc module; these are the calls the server needs from it.

/// Caps glibc's malloc arenas at `count` (0 when not on glibc or refused).
int subcon_limit_malloc_arenas(int count);

/// Gives the memory malloc holds free back to the system (malloc_trim); 1 if any was returned.
int subcon_return_free_memory(void);

/// How many bytes the block at `pointer` (from malloc) can hold; 0 where that is not known.
unsigned long subcon_allocation_size(void *pointer);

#endif
