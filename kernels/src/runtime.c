/* Where the JS allocator may start: everything below is the kernels' data and stack. */
#include "common.h"

extern unsigned char __heap_base;

EXPORT(heap_base) uintptr_t heap_base(void) { return (uintptr_t)&__heap_base; }

/* 1 in the relaxed-SIMD build, 0 in the plain SIMD128 build. */
EXPORT(relaxed_simd) int relaxed_simd(void) {
#ifdef RELAXED
  return 1;
#else
  return 0;
#endif
}
