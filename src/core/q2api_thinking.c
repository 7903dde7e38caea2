/*
 * Copyright (C) ngx_http_q2api_module authors
 */


#include "q2api_thinking.h"
#include "q2api_json.h"


#define Q2API_THINK_OPEN   "<thinking>"
#define Q2API_THINK_CLOSE  "</thinking>"


void
q2api_thinking_init(q2api_thinking_t *t)
{
    memset(t, 0, sizeof(q2api_thinking_t));
}


/* the longest suffix of s[0..len) that is a proper prefix of tag */
static size_t
q2api_thinking_partial(const char *s, size_t len, const char *tag,
    size_t tlen)
{
    size_t  n;

    for (n = tlen - 1; n > 0; n--) {
        if (n <= len && memcmp(s + len - n, tag, n) == 0) {
            return n;
        }
    }

    return 0;
}


/* scans one contiguous piece; held bytes were put in front by the caller */
static int
q2api_thinking_scan(q2api_thinking_t *t, const char *s, size_t len,
    q2api_thinking_emit_pt emit, void *data)
{
    int          rc;
    size_t       tlen, keep, i;
    const char  *tag;

    while (len) {
        tag = t->in_thinking ? Q2API_THINK_CLOSE : Q2API_THINK_OPEN;
        tlen = t->in_thinking ? sizeof(Q2API_THINK_CLOSE) - 1
                              : sizeof(Q2API_THINK_OPEN) - 1;

        for (i = 0; i + tlen <= len; i++) {
            if (s[i] == '<' && memcmp(s + i, tag, tlen) == 0) {
                break;
            }
        }

        if (i + tlen <= len) {
            if (i) {
                rc = emit(data, t->in_thinking, s, i);
                if (rc != Q2API_OK) {
                    return rc;
                }
            }

            t->in_thinking = !t->in_thinking;
            s += i + tlen;
            len -= i + tlen;
            continue;
        }

        keep = q2api_thinking_partial(s, len, tag, tlen);

        if (len > keep) {
            rc = emit(data, t->in_thinking, s, len - keep);
            if (rc != Q2API_OK) {
                return rc;
            }
        }

        memcpy(t->held, s + len - keep, keep);
        t->nheld = keep;

        return Q2API_OK;
    }

    return Q2API_OK;
}


int
q2api_thinking_feed(q2api_thinking_t *t, const char *s, size_t len,
    q2api_thinking_emit_pt emit, void *data)
{
    int     rc;
    char    join[32];
    size_t  n, take;

    while (t->nheld && len) {
        /*
         * The held bytes and the start of this chunk decide together; a
         * tag is at most 11 bytes, so 16 of each are enough to settle it.
         */
        take = len < 16 ? len : 16;

        /* a piece emitted from join must not end inside a character */
        if (take < len && q2api_utf8_complete_prefix(s, take) > 0) {
            take = q2api_utf8_complete_prefix(s, take);
        }

        n = t->nheld;

        memcpy(join, t->held, n);
        memcpy(join + n, s, take);
        t->nheld = 0;

        rc = q2api_thinking_scan(t, join, n + take, emit, data);
        if (rc != Q2API_OK) {
            return rc;
        }

        s += take;
        len -= take;

        if (t->nheld && len) {
            /* what is held now came from join: the chunk goes on after */
            continue;
        }
    }

    if (len == 0) {
        return Q2API_OK;
    }

    return q2api_thinking_scan(t, s, len, emit, data);
}


int
q2api_thinking_finish(q2api_thinking_t *t, q2api_thinking_emit_pt emit,
    void *data)
{
    size_t  n;

    n = t->nheld;
    t->nheld = 0;

    if (n == 0) {
        return Q2API_OK;
    }

    return emit(data, t->in_thinking, t->held, n);
}
