/* fuzz.h - what the fuzz targets share: a reader that turns the fuzzer's
 * bytes into numbers (zeros once they run out, so that every input is a
 * whole program), and FUZZ_CHECK, which reports a broken invariant and
 * aborts, so that libFuzzer saves the input as a crash. */
#ifndef SF_FUZZ_H
#define SF_FUZZ_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* The fuzzer's bytes, read front to back. */
typedef struct {
    const uint8_t *p;
    size_t n, at;
} fz_in;

static inline int fz_more(const fz_in *in)
{
    return in->at < in->n;
}

static inline uint8_t fz_u8(fz_in *in)
{
    return in->at < in->n ? in->p[in->at++] : 0;
}

static inline uint16_t fz_u16(fz_in *in)
{
    uint16_t hi = fz_u8(in);
    return (uint16_t)(hi << 8 | fz_u8(in));
}

static inline uint32_t fz_u32(fz_in *in)
{
    uint32_t hi = fz_u16(in);
    return hi << 16 | fz_u16(in);
}

/* Reports a broken invariant with where it broke, then aborts (a crash to
 * libFuzzer, which saves the input). */
static inline void fz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    fprintf(stderr, "\n%s:%d: invariant broken: %s\n  ", file, line, cond);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

/* FUZZ_CHECK(cond, "SND.UNA %u", x): aborts with the message unless cond. */
#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) fz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                              \
    } while (0)

#endif
