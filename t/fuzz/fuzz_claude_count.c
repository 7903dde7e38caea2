/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * libFuzzer target for count_tokens in one pass: the input is a Messages
 * request body.  Whatever q2api_claude_count() counts, the full parse
 * (q2api_claude_parse()) must take, and its estimate must be the count;
 * the pass reads no byte past the length (ASan).  A body the pass leaves
 * alone is the full parse's, as before, and is not checked here.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "q2api_claude.h"


#define check(cond)  do { if (!(cond)) { abort(); } } while (0)


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int              rc;
    char            *body;
    long long        tokens;
    q2api_error_t    err;
    q2api_request_t  req;

    /* a copy of exactly size bytes, so that ASan sees any read past it */
    body = malloc(size ? size : 1);
    check(body != NULL);
    memcpy(body, data, size);

    if (q2api_claude_count(body, size, &tokens) == Q2API_OK) {
        q2api_request_init(&req);
        memset(&err, 0, sizeof(err));

        rc = q2api_claude_parse(&req, body, size, &err);

        check(rc == Q2API_OK);
        check(tokens == q2api_request_estimate_tokens(&req));

        q2api_request_free(&req);
    }

    free(body);

    return 0;
}
