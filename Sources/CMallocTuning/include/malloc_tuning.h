#ifndef MALLOC_TUNING_H
#define MALLOC_TUNING_H

// glibc's malloc.h is not part of Swift's Glibc module; these are the two calls the server needs.

/// Caps glibc's malloc arenas at `count` (0 when not on glibc or refused).
int subcon_limit_malloc_arenas(int count);

#endif
