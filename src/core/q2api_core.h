/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Common definitions of the protocol core.  The core is plain C99 with
 * cJSON and OpenSSL only: no nginx types, so that it is unit-tested and
 * fuzzed on its own and linked unchanged into the module.
 */

#ifndef _Q2API_CORE_H_INCLUDED_
#define _Q2API_CORE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <string.h>


#define Q2API_OK         0
#define Q2API_ERROR     -1
#define Q2API_AGAIN     -2      /* need more input */
#define Q2API_NOMEM     -3      /* allocation failed or a bound was hit */


/* a borrowed byte string; never NUL-terminated unless said so */
typedef struct {
    const char  *data;
    size_t       len;
} q2api_str_t;


#define q2api_str_lit(s)    { (s), sizeof(s) - 1 }
#define q2api_str_eq_lit(st, lit)                                          \
    ((st)->len == sizeof(lit) - 1 && memcmp((st)->data, lit, (st)->len) == 0)


#endif /* _Q2API_CORE_H_INCLUDED_ */
