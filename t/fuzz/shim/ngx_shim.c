/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The few nginx calls that the glue files built into a fuzzer make (pools,
 * formatted strings, logging, the clock), for a process without nginx:
 * Debian's nginx-dev has the headers but not nginx's sources.  Every pool
 * allocation is its own malloc(), so that ASan sees a read past any of
 * them; a format this file does not know aborts, rather than print
 * something else than nginx would.  Each log line is formatted and must
 * hold no control byte: a value that reaches a log unchecked could forge
 * lines.
 */


#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_shim.h"


static ngx_time_t     ngx_shim_time = { 1700000000, 0, 0 };
volatile ngx_time_t  *ngx_cached_time = &ngx_shim_time;

static ngx_log_t      ngx_shim_log_s;


ngx_log_t *
ngx_shim_log(void)
{
    ngx_shim_log_s.log_level = NGX_LOG_DEBUG;

    return &ngx_shim_log_s;
}


ngx_pool_t *
ngx_create_pool(size_t size, ngx_log_t *log)
{
    ngx_pool_t  *p;

    p = calloc(1, sizeof(ngx_pool_t));
    if (p == NULL) {
        return NULL;
    }

    p->log = log;

    return p;
}


void
ngx_destroy_pool(ngx_pool_t *pool)
{
    ngx_pool_large_t    *l, *next;
    ngx_pool_cleanup_t  *c;

    for (c = pool->cleanup; c; c = c->next) {
        if (c->handler) {
            c->handler(c->data);
        }
    }

    for (l = pool->large; l; l = next) {
        next = l->next;
        free(l->alloc);
        free(l);
    }

    for (c = pool->cleanup; c; c = pool->cleanup) {
        pool->cleanup = c->next;
        free(c);
    }

    free(pool);
}


void *
ngx_palloc(ngx_pool_t *pool, size_t size)
{
    ngx_pool_large_t  *l;

    l = malloc(sizeof(ngx_pool_large_t));
    if (l == NULL) {
        return NULL;
    }

    /* malloc(0) may be NULL, which is no failure of nginx's */
    l->alloc = malloc(size ? size : 1);
    if (l->alloc == NULL) {
        free(l);
        return NULL;
    }

    l->next = pool->large;
    pool->large = l;

    return l->alloc;
}


void *
ngx_pnalloc(ngx_pool_t *pool, size_t size)
{
    return ngx_palloc(pool, size);
}


void *
ngx_pcalloc(ngx_pool_t *pool, size_t size)
{
    void  *p;

    p = ngx_palloc(pool, size);

    if (p) {
        memset(p, 0, size);
    }

    return p;
}


ngx_pool_cleanup_t *
ngx_pool_cleanup_add(ngx_pool_t *p, size_t size)
{
    ngx_pool_cleanup_t  *c;

    c = calloc(1, sizeof(ngx_pool_cleanup_t));
    if (c == NULL) {
        return NULL;
    }

    if (size) {
        c->data = ngx_palloc(p, size);
        if (c->data == NULL) {
            free(c);
            return NULL;
        }
    }

    c->next = p->cleanup;
    p->cleanup = c;

    return c;
}


u_char *
ngx_vslprintf(u_char *buf, u_char *last, const char *fmt, va_list args)
{
    char         num[32];
    size_t       len, n;
    u_char      *s;
    ngx_str_t   *v;
    ngx_uint_t   sign, star, lng, size;

    while (*fmt && buf < last) {

        if (*fmt != '%') {
            *buf++ = *fmt++;
            continue;
        }

        fmt++;
        sign = 1;
        star = 0;
        lng = 0;
        size = 0;

        while (*fmt == '0' || (*fmt >= '1' && *fmt <= '9')) {
            fmt++;                          /* widths: not used here */
        }

        for ( ;; ) {
            if (*fmt == 'u') {
                sign = 0;
            } else if (*fmt == '*') {
                star = 1;
            } else {
                break;
            }
            fmt++;
        }

        num[0] = '\0';
        s = (u_char *) num;
        len = (size_t) -1;

        switch (*fmt) {

        case 's':
            if (star) {
                len = va_arg(args, size_t);
            }
            s = va_arg(args, u_char *);
            break;

        case 'V':
            v = va_arg(args, ngx_str_t *);
            s = v->data;
            len = v->len;
            break;

        case 'd':
            if (sign) {
                snprintf(num, sizeof(num), "%d", va_arg(args, int));
            } else {
                snprintf(num, sizeof(num), "%u", va_arg(args, unsigned));
            }
            break;

        case 'i':
            size = sizeof(ngx_int_t);
            break;

        case 'z':
            size = sizeof(size_t);
            break;

        case 'L':
            lng = 1;
            break;

        case 'O':
            snprintf(num, sizeof(num), "%lld", (long long) va_arg(args, off_t));
            break;

        case 'T':
            snprintf(num, sizeof(num), "%lld",
                     (long long) va_arg(args, time_t));
            break;

        case 'c':
            num[0] = (char) va_arg(args, int);
            num[1] = '\0';
            break;

        case 'Z':
            num[0] = '\0';
            len = 1;
            break;

        case 'N':
            num[0] = '\n';
            num[1] = '\0';
            break;

        case '%':
            num[0] = '%';
            num[1] = '\0';
            break;

        default:
            /* a format nginx has and this file has not: no silent lie */
            abort();
        }

        if (size || lng) {
            if (sign) {
                snprintf(num, sizeof(num), "%lld",
                         lng ? (long long) va_arg(args, int64_t)
                         : (long long) va_arg(args, ssize_t));
            } else {
                snprintf(num, sizeof(num), "%llu",
                         lng ? (unsigned long long) va_arg(args, uint64_t)
                         : (unsigned long long) va_arg(args, size_t));
            }
        }

        fmt++;

        if (len == (size_t) -1) {
            len = strlen((char *) s);
        }

        n = ngx_min(len, (size_t) (last - buf));
        buf = ngx_cpymem(buf, s, n);
    }

    return buf;
}


u_char * ngx_cdecl
ngx_sprintf(u_char *buf, const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, (void *) -1, fmt, args);
    va_end(args);

    return p;
}


u_char * ngx_cdecl
ngx_snprintf(u_char *buf, size_t max, const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + max, fmt, args);
    va_end(args);

    return p;
}


u_char * ngx_cdecl
ngx_slprintf(u_char *buf, u_char *last, const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, last, fmt, args);
    va_end(args);

    return p;
}


void ngx_cdecl
ngx_log_error_core(ngx_uint_t level, ngx_log_t *log, ngx_err_t err,
    const char *fmt, ...)
{
    u_char   line[NGX_MAX_ERROR_STR], *p, *last;
    va_list  args;

    va_start(args, fmt);
    last = ngx_vslprintf(line, line + sizeof(line), fmt, args);
    va_end(args);

    for (p = line; p < last; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            fprintf(stderr, "a log line with a control byte: %.*s\n",
                    (int) (last - line), line);
            abort();
        }
    }

    if (getenv("NGX_SHIM_LOG")) {
        fprintf(stderr, "%.*s\n", (int) (last - line), line);
    }
}


/* nginx's for a needle of n + 1 bytes, which is how it is called */
u_char *
ngx_strstrn(u_char *s1, char *s2, size_t n)
{
    if (strlen(s2) != n + 1) {
        abort();
    }

    return (u_char *) strstr((char *) s1, s2);
}


ngx_int_t
ngx_strcasecmp(u_char *s1, u_char *s2)
{
    return strcasecmp((char *) s1, (char *) s2);
}


/* nginx's: digits only, no sign, NGX_ERROR on overflow */
off_t
ngx_atoof(u_char *line, size_t n)
{
    off_t  value, cutoff, cutlim;

    if (n == 0) {
        return NGX_ERROR;
    }

    cutoff = NGX_MAX_OFF_T_VALUE / 10;
    cutlim = NGX_MAX_OFF_T_VALUE % 10;

    for (value = 0; n--; line++) {
        if (*line < '0' || *line > '9') {
            return NGX_ERROR;
        }

        if (value >= cutoff && (value > cutoff || *line - '0' > cutlim)) {
            return NGX_ERROR;
        }

        value = value * 10 + (*line - '0');
    }

    return value;
}


/* nginx's, as ngx_atoof(): off_t and ngx_int_t are alike on 64 bits */
ngx_int_t
ngx_atoi(u_char *line, size_t n)
{
    return (ngx_int_t) ngx_atoof(line, n);
}


void
ngx_strlow(u_char *dst, u_char *src, size_t n)
{
    while (n) {
        *dst = ngx_tolower(*src);
        dst++;
        src++;
        n--;
    }
}


/*
 * nginx's: the value of the first "name=" (any case) at the start of the
 * arguments or after a "&", up to the next "&"
 */
ngx_int_t
ngx_http_arg(ngx_http_request_t *r, u_char *name, size_t len,
    ngx_str_t *value)
{
    u_char  *p, *last, *start;

    start = r->args.data;
    last = start + r->args.len;

    for (p = start; p + len < last; p++) {
        if ((p == start || p[-1] == '&')
            && ngx_strncasecmp(p, name, len) == 0 && p[len] == '=')
        {
            value->data = p + len + 1;
            p = ngx_strlchr(value->data, last, '&');
            value->len = (p ? p : last) - value->data;
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


/*
 * NGX_UNESCAPE_URI as nginx does it where it matters here: %XX decoded,
 * a "%" without two hex digits kept as it is, the end at a "?" (kept);
 * never longer than the source
 */
void
ngx_unescape_uri(u_char **dst, u_char **src, size_t size, ngx_uint_t type)
{
    u_char  *d, *s, *end;

    d = *dst;
    s = *src;
    end = s + size;

    while (s < end) {
        if (*s == '?' && type == NGX_UNESCAPE_URI) {
            *d++ = *s++;
            break;
        }

        if (*s == '%' && end - s >= 3 && isxdigit(s[1]) && isxdigit(s[2])) {
            *d++ = (u_char) ngx_hextoi(s + 1, 2);
            s += 3;
            continue;
        }

        *d++ = *s++;
    }

    *dst = d;
    *src = s;
}


ngx_int_t
ngx_strncasecmp(u_char *s1, u_char *s2, size_t n)
{
    return strncasecmp((char *) s1, (char *) s2, n);
}


ngx_int_t
ngx_hextoi(u_char *line, size_t n)
{
    u_char     c, ch;
    ngx_int_t  value;

    for (value = 0; n--; line++) {
        ch = *line;
        c = (u_char) (ch | 0x20);

        if (ch >= '0' && ch <= '9') {
            value = value * 16 + (ch - '0');

        } else if (c >= 'a' && c <= 'f') {
            value = value * 16 + (c - 'a' + 10);

        } else {
            return NGX_ERROR;
        }
    }

    return value;
}


/* nginx's, but a full array always moves to a new block */
void *
ngx_array_push(ngx_array_t *a)
{
    void  *elts;

    if (a->nelts == a->nalloc) {
        elts = ngx_palloc(a->pool, 2 * a->nalloc * a->size);
        if (elts == NULL) {
            return NULL;
        }

        ngx_memcpy(elts, a->elts, a->nelts * a->size);
        a->elts = elts;
        a->nalloc *= 2;
    }

    return (u_char *) a->elts + a->size * a->nelts++;
}


/* nginx's: s2 (lowercase, n + 1 bytes) in s1 up to last, any case */
u_char *
ngx_strlcasestrn(u_char *s1, u_char *last, u_char *s2, size_t n)
{
    ngx_uint_t  c1, c2;

    c2 = (ngx_uint_t) *s2++;
    c2 = (c2 >= 'A' && c2 <= 'Z') ? (c2 | 0x20) : c2;
    last -= n;

    do {
        do {
            if (s1 >= last) {
                return NULL;
            }

            c1 = (ngx_uint_t) *s1++;
            c1 = (c1 >= 'A' && c1 <= 'Z') ? (c1 | 0x20) : c1;

        } while (c1 != c2);

    } while (ngx_strncasecmp(s1, s2, n) != 0);

    return --s1;
}


/* nginx's: memcmp over the shorter, then the shorter first */
ngx_int_t
ngx_memn2cmp(u_char *s1, u_char *s2, size_t n1, size_t n2)
{
    size_t     n;
    ngx_int_t  m, z;

    if (n1 <= n2) {
        n = n1;
        z = -1;

    } else {
        n = n2;
        z = 1;
    }

    m = ngx_memcmp(s1, s2, n);

    if (m || n1 == n2) {
        return m;
    }

    return z;
}
