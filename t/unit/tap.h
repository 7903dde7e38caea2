/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * A minimal TAP producer for the core's unit tests; prove reads its output.
 */

#ifndef _Q2API_TAP_H_INCLUDED_
#define _Q2API_TAP_H_INCLUDED_


#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static int  tap_count;
static int  tap_failed;


static int
tap_ok(int cond, const char *file, int line, const char *name)
{
    tap_count++;

    if (cond) {
        printf("ok %d - %s\n", tap_count, name);

    } else {
        tap_failed++;
        printf("not ok %d - %s\n#   at %s line %d\n", tap_count, name, file,
               line);
    }

    fflush(stdout);

    return cond;
}


#define ok(cond, name)  tap_ok(!!(cond), __FILE__, __LINE__, name)

#define is_int(got, want, name)                                            \
    do {                                                                   \
        long long g_ = (long long) (got), w_ = (long long) (want);         \
        if (!ok(g_ == w_, name)) {                                         \
            printf("#   got: %lld\n#   expected: %lld\n", g_, w_);         \
        }                                                                  \
    } while (0)

#define is_mem(got, got_len, want, want_len, name)                         \
    do {                                                                   \
        size_t gl_ = (got_len), wl_ = (want_len);                          \
        if (!ok(gl_ == wl_ && (gl_ == 0 || memcmp(got, want, gl_) == 0),   \
                name))                                                     \
        {                                                                  \
            printf("#   got:      '%.*s'\n#   expected: '%.*s'\n",        \
                   (int) gl_, (const char *) (got), (int) wl_,             \
                   (const char *) (want));                                 \
        }                                                                  \
    } while (0)

#define is_str(got, want, name)                                            \
    is_mem(got, strlen(got), want, strlen(want), name)

#define diag(...)                                                          \
    do { printf("# "); printf(__VA_ARGS__); printf("\n"); } while (0)


static int
done_testing(void)
{
    printf("1..%d\n", tap_count);

    return tap_failed ? 1 : 0;
}


#endif /* _Q2API_TAP_H_INCLUDED_ */
