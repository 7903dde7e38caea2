/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The PostgreSQL store's configuration: "q2api_store postgres <conninfo>"
 * parsed by libpq, host names resolved here, in the master, so that a
 * worker never blocks on a lookup.
 */


#include "ngx_http_q2api_store_pg.h"


static ngx_int_t ngx_http_q2api_pg_hostaddr(ngx_conf_t *cf,
    ngx_http_q2api_pg_t *pg, const char *host, const char *port,
    const char **keywords, const char **values, ngx_uint_t *n);
static const char *ngx_http_q2api_pg_strdup(ngx_pool_t *pool,
    const char *s);
static void ngx_http_q2api_pg_mask(u_char *dst, size_t size,
    const char *src);


ngx_int_t
ngx_http_q2api_store_pg_conf(ngx_conf_t *cf, ngx_http_q2api_store_t *st)
{
    char                  *errmsg;
    u_char                 masked[NGX_HTTP_Q2API_PG_ERR_LEN];
    ngx_int_t              timeout;
    ngx_uint_t             n, nopts, named;
    const char            *host, *hostaddr, *port, *service, **keywords,
                          **values;
    PQconninfoOption      *opts, *o;
    ngx_http_q2api_pg_t   *pg;

    errmsg = NULL;

    opts = PQconninfoParse((const char *) st->target.data, &errmsg);

    if (opts == NULL) {
        /* libpq quotes the offending text, which may be a password */
        ngx_http_q2api_pg_mask(masked, sizeof(masked),
                               errmsg ? errmsg : "out of memory");

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "q2api_store postgres: invalid connection "
                           "string: %s", masked);

        if (errmsg) {
            PQfreemem(errmsg);
        }

        return NGX_ERROR;
    }

    pg = ngx_pcalloc(cf->pool, sizeof(ngx_http_q2api_pg_t));
    if (pg == NULL) {
        goto failed;
    }

    nopts = 0;

    for (o = opts; o->keyword; o++) {
        nopts++;
    }

    /* the options, a hostaddr, a fallback application name, the end */
    keywords = ngx_pcalloc(cf->pool, (nopts + 3) * sizeof(char *));
    values = ngx_pcalloc(cf->pool, (nopts + 3) * sizeof(char *));

    if (keywords == NULL || values == NULL) {
        goto failed;
    }

    host = NULL;
    hostaddr = NULL;
    port = NULL;
    service = NULL;
    named = 0;
    n = 0;
    pg->connect_timeout = NGX_HTTP_Q2API_PG_CONNECT_TIMEOUT;

    for (o = opts; o->keyword; o++) {

        if (o->val == NULL) {
            continue;
        }

        if (ngx_strcmp(o->keyword, "host") == 0) {
            host = o->val;

        } else if (ngx_strcmp(o->keyword, "hostaddr") == 0) {
            hostaddr = o->val;

        } else if (ngx_strcmp(o->keyword, "port") == 0) {
            port = o->val;

        } else if (ngx_strcmp(o->keyword, "service") == 0) {
            service = o->val;

        } else if (ngx_strcmp(o->keyword, "connect_timeout") == 0) {
            /* libpq applies it only to blocking connects: ours is a timer */
            timeout = ngx_atoi((u_char *) o->val, ngx_strlen(o->val));

            if (timeout == NGX_ERROR) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "q2api_store postgres: invalid "
                                   "connect_timeout \"%s\"", o->val);
                goto failed;
            }

            if (timeout > 0) {
                pg->connect_timeout = (ngx_msec_t) ngx_max(timeout, 2)
                                      * 1000;
            }
        }

        if (ngx_strcmp(o->keyword, "application_name") == 0
            || ngx_strcmp(o->keyword, "fallback_application_name") == 0)
        {
            named = 1;
        }

        keywords[n] = ngx_http_q2api_pg_strdup(cf->pool, o->keyword);
        values[n] = ngx_http_q2api_pg_strdup(cf->pool, o->val);

        if (keywords[n] == NULL || values[n] == NULL) {
            goto failed;
        }

        n++;
    }

    if (host && host[0] && hostaddr == NULL) {
        if (ngx_http_q2api_pg_hostaddr(cf, pg, host, port, keywords, values,
                                      &n)
            != NGX_OK)
        {
            goto failed;
        }

    } else if (service && host == NULL && hostaddr == NULL) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "q2api_store postgres: a host name that comes "
                           "from the service file is resolved by libpq in "
                           "the worker, which blocks it; give \"host\" or "
                           "\"hostaddr\" here");
    }

    if (!named) {
        /* pg_stat_activity tells these connections apart */
        keywords[n] = "fallback_application_name";
        values[n] = "nginx-q2api";
        n++;
    }

    keywords[n] = NULL;
    values[n] = NULL;

    PQconninfoFree(opts);

    pg->st = st;
    pg->keywords = keywords;
    pg->values = values;
    pg->backoff = NGX_HTTP_Q2API_PG_BACKOFF_MIN;

    if (ngx_http_q2api_pg_statements(cf, pg) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_rbtree_init(&pg->rows, &pg->sentinel, ngx_str_rbtree_insert_value);

    pg->timer.handler = ngx_http_q2api_pg_timer;
    pg->timer.data = pg;

    st->data = pg;

    return NGX_OK;

failed:

    PQconninfoFree(opts);

    return NGX_ERROR;
}


/*
 * Resolves the host names of "host" now, in the master, and passes the
 * addresses as "hostaddr", so that libpq never looks a name up in a
 * worker.  A name with several addresses becomes several entries, which
 * libpq tries in turn as it would have; "host" still names the server for
 * TLS verification and the password file.  Unix socket directories and
 * numeric addresses are kept as they are.
 */
static ngx_int_t
ngx_http_q2api_pg_hostaddr(ngx_conf_t *cf, ngx_http_q2api_pg_t *pg,
    const char *host, const char *port, const char **keywords,
    const char **values, ngx_uint_t *n)
{
    int               rc;
    char              addr[NGX_SOCKADDR_STRLEN];
    u_char           *p;
    size_t            len;
    ngx_str_t         h, pt, *hosts, *ports;
    ngx_uint_t        i, k, nhosts, nports, naddrs, resolved;
    ngx_array_t      *eh, *ea, *ep;
    struct addrinfo   hints, *res, *ai;
    u_char            buf[sizeof(struct in6_addr)];

    eh = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
    ea = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
    ep = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));

    if (eh == NULL || ea == NULL || ep == NULL) {
        return NGX_ERROR;
    }

    /* split the comma separated lists */

    nhosts = 1;

    for (p = (u_char *) host; *p; p++) {
        if (*p == ',') {
            nhosts++;
        }
    }

    nports = 0;

    if (port) {
        nports = 1;

        for (p = (u_char *) port; *p; p++) {
            if (*p == ',') {
                nports++;
            }
        }
    }

    if (nports > 1 && nports != nhosts) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "q2api_store postgres: %ui ports for %ui hosts",
                           nports, nhosts);
        return NGX_ERROR;
    }

    hosts = ngx_pcalloc(cf->pool, nhosts * sizeof(ngx_str_t));
    ports = ngx_pcalloc(cf->pool, nhosts * sizeof(ngx_str_t));

    if (hosts == NULL || ports == NULL) {
        return NGX_ERROR;
    }

    h.data = (u_char *) host;
    k = 0;

    for (p = (u_char *) host; ; p++) {
        if (*p == ',' || *p == '\0') {
            hosts[k].data = h.data;
            hosts[k++].len = p - h.data;
            h.data = p + 1;
        }

        if (*p == '\0') {
            break;
        }
    }

    if (port) {
        pt.data = (u_char *) port;
        k = 0;

        for (p = (u_char *) port; ; p++) {
            if (*p == ',' || *p == '\0') {
                ports[k].data = pt.data;
                ports[k++].len = p - pt.data;
                pt.data = p + 1;
            }

            if (*p == '\0') {
                break;
            }
        }
    }

    resolved = 0;

    for (i = 0; i < nhosts; i++) {
        h = hosts[i];
        pt = (nports > 1) ? ports[i] : (ngx_str_t) ngx_null_string;

        p = ngx_pnalloc(cf->pool, h.len + 1);
        if (p == NULL) {
            return NGX_ERROR;
        }

        *ngx_cpymem(p, h.data, h.len) = '\0';

        if (h.len == 0 || p[0] == '/' || p[0] == '@'
            || inet_pton(AF_INET, (char *) p, buf) == 1
            || inet_pton(AF_INET6, (char *) p, buf) == 1)
        {
            /* a socket directory or an address: libpq needs no lookup */
            if (ngx_array_push(eh) == NULL || ngx_array_push(ep) == NULL) {
                return NGX_ERROR;
            }

            ((ngx_str_t *) eh->elts)[eh->nelts - 1] = h;
            ((ngx_str_t *) ep->elts)[ep->nelts - 1] = pt;

            if (ngx_array_push(ea) == NULL) {
                return NGX_ERROR;
            }

            /* an address names itself; a socket directory has none */
            ((ngx_str_t *) ea->elts)[ea->nelts - 1] =
                (h.len && p[0] != '/' && p[0] != '@')
                ? h : (ngx_str_t) ngx_null_string;

            continue;
        }

        ngx_memzero(&hints, sizeof(struct addrinfo));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;

        rc = getaddrinfo((char *) p, NULL, &hints, &res);

        if (rc != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "q2api_store postgres: host \"%s\" not "
                               "found: getaddrinfo() failed (%s)",
                               p, gai_strerror(rc));
            return NGX_ERROR;
        }

        naddrs = 0;

        for (ai = res; ai && naddrs < NGX_HTTP_Q2API_PG_MAX_ADDRS;
             ai = ai->ai_next)
        {
            if (ai->ai_family == AF_INET) {
                if (inet_ntop(AF_INET,
                              &((struct sockaddr_in *) ai->ai_addr)->sin_addr,
                              addr, sizeof(addr))
                    == NULL)
                {
                    continue;
                }

            } else if (ai->ai_family == AF_INET6) {
                if (inet_ntop(AF_INET6,
                         &((struct sockaddr_in6 *) ai->ai_addr)->sin6_addr,
                         addr, sizeof(addr))
                    == NULL)
                {
                    continue;
                }

            } else {
                continue;
            }

            len = ngx_strlen(addr);

            /* getaddrinfo() repeats an address for each protocol */
            for (k = 0; k < ea->nelts; k++) {
                if (((ngx_str_t *) ea->elts)[k].len == len
                    && ngx_strncmp(((ngx_str_t *) ea->elts)[k].data, addr,
                                   len) == 0
                    && ((ngx_str_t *) eh->elts)[k].data == h.data)
                {
                    break;
                }
            }

            if (k < ea->nelts) {
                continue;
            }

            if (ngx_array_push(eh) == NULL || ngx_array_push(ep) == NULL
                || ngx_array_push(ea) == NULL)
            {
                freeaddrinfo(res);
                return NGX_ERROR;
            }

            ((ngx_str_t *) eh->elts)[eh->nelts - 1] = h;
            ((ngx_str_t *) ep->elts)[ep->nelts - 1] = pt;

            p = ngx_pnalloc(cf->pool, len);
            if (p == NULL) {
                freeaddrinfo(res);
                return NGX_ERROR;
            }

            ngx_memcpy(p, addr, len);
            ((ngx_str_t *) ea->elts)[ea->nelts - 1].data = p;
            ((ngx_str_t *) ea->elts)[ea->nelts - 1].len = len;

            naddrs++;
            resolved++;
        }

        freeaddrinfo(res);

        if (naddrs == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "q2api_store postgres: host \"%V\" has no "
                               "IPv4 or IPv6 address", &h);
            return NGX_ERROR;
        }
    }

    if (resolved == 0) {
        /* nothing to look up: the options stay as they were */
        return NGX_OK;
    }

    /* join the entries into host, hostaddr and, if per host, port */

    for (k = 0; k < *n; k++) {
        if (ngx_strcmp(keywords[k], "host") == 0
            || (nports > 1 && ngx_strcmp(keywords[k], "port") == 0))
        {
            keywords[k] = "q2api_removed";
        }
    }

    i = 0;

    for (k = 0; k < *n; k++) {
        if (ngx_strcmp(keywords[k], "q2api_removed") != 0) {
            keywords[i] = keywords[k];
            values[i++] = values[k];
        }
    }

    *n = i;

    {
        ngx_array_t  *lists[3] = { eh, ea, ep };
        const char   *names[3] = { "host", "hostaddr", "port" };

        for (k = 0; k < 3; k++) {

            if (k == 2 && nports <= 1) {
                break;
            }

            len = 0;

            for (i = 0; i < lists[k]->nelts; i++) {
                len += ((ngx_str_t *) lists[k]->elts)[i].len + 1;
            }

            p = ngx_pnalloc(cf->pool, len + 1);
            if (p == NULL) {
                return NGX_ERROR;
            }

            keywords[*n] = names[k];
            values[*n] = (const char *) p;
            (*n)++;

            for (i = 0; i < lists[k]->nelts; i++) {
                if (i) {
                    *p++ = ',';
                }

                p = ngx_cpymem(p, ((ngx_str_t *) lists[k]->elts)[i].data,
                               ((ngx_str_t *) lists[k]->elts)[i].len);
            }

            *p = '\0';
        }
    }

    return NGX_OK;
}


static const char *
ngx_http_q2api_pg_strdup(ngx_pool_t *pool, const char *s)
{
    u_char  *p;
    size_t   len;

    len = ngx_strlen(s) + 1;

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, s, len);

    return (const char *) p;
}


/*
 * libpq's message with every quoted fragment longer than one character
 * (the offending part of the string, which may hold a password) and
 * anything after an unmatched quote replaced by "..."
 */
static void
ngx_http_q2api_pg_mask(u_char *dst, size_t size, const char *src)
{
    u_char      *p, *last;
    size_t       n;
    const char  *q;

    p = dst;
    last = dst + size - 1;

    while (*src && p < last) {

        if (*src == '"') {
            q = ngx_strchr(src + 1, '"');

            if (q == NULL || q - src > 2) {
                p = ngx_cpymem(p, "\"...\"", ngx_min(5, (size_t) (last - p)));

                if (q == NULL) {
                    break;
                }

                src = q + 1;
                continue;
            }

            /* a one-character fragment, "=" or "]": kept, quotes and all */
            n = ngx_min((size_t) (q - src + 1), (size_t) (last - p));
            p = ngx_cpymem(p, src, n);
            src = q + 1;
            continue;
        }

        *p++ = (*src == '\n' || *src == '\r' || *src == '\t') ? ' ' : *src;
        src++;
    }

    while (p > dst && p[-1] == ' ') {
        p--;
    }

    *p = '\0';
}
