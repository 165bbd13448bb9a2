#include "malloc_tuning.h"
#include <stdlib.h>  // defines __GLIBC__ on glibc

#if defined(__GLIBC__)
#include <malloc.h>

int subcon_limit_malloc_arenas(int count) {
    return mallopt(M_ARENA_MAX, count);
}

int subcon_return_free_memory(void) {
    return malloc_trim(0);
}

unsigned long subcon_allocation_size(void *pointer) {
    return malloc_usable_size(pointer);
}
#else
int subcon_limit_malloc_arenas(int count) {
    (void)count;
    return 0;
}

int subcon_return_free_memory(void) {
    return 0;
}

unsigned long subcon_allocation_size(void *pointer) {
    (void)pointer;
    return 0;
}
#endif
