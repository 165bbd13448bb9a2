#ifndef MALLOC_TUNING_H
#define MALLOC_TUNING_H

// glibc's malloc.h is not part of Swift's Glibc module; this is the one call the server needs from it.

/// Caps glibc's malloc arenas at `count` (0 when not on glibc or refused).
int subcon_limit_malloc_arenas(int count);

#endif
