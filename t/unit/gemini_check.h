/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * What the Gemini back end's tests share: a Claude body parsed and built
 * into a Code Assist body, and paths into JSON ("a.b.0.c").
 */

#ifndef _GEMINI_CHECK_H_INCLUDED_
#define _GEMINI_CHECK_H_INCLUDED_


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tap.h"
#include "jq.h"
#include "q2api_gemini.h"
#include "q2api_claude.h"


#define GC_UNUSED  __attribute__((unused))


static GC_UNUSED cJSON *
gc_get(cJSON *j, const char *path)
{
    char         key[128];
    size_t       n;
    const char  *dot;

    while (j != NULL && *path) {
        dot = strchr(path, '.');
        n = dot ? (size_t) (dot - path) : strlen(path);

        if (n >= sizeof(key)) {
            return NULL;
        }

        memcpy(key, path, n);
        key[n] = '\0';

        j = cJSON_IsArray(j) ? cJSON_GetArrayItem(j, atoi(key))
                             : cJSON_GetObjectItemCaseSensitive(j, key);

        path += n + (dot ? 1 : 0);
    }

    return j;
}


static GC_UNUSED int
gc_str(cJSON *j, const char *path, const char *want)
{
    j = gc_get(j, path);

    if (cJSON_IsString(j) && strcmp(j->valuestring, want) == 0) {
        return 1;
    }

    diag("%s: got %s", path, cJSON_IsString(j) ? j->valuestring : "(none)");

    return 0;
}


static GC_UNUSED int
gc_num(cJSON *j, const char *path, double want)
{
    j = gc_get(j, path);

    return cJSON_IsNumber(j) && j->valuedouble == want;
}


static GC_UNUSED int
gc_count(cJSON *j, const char *path)
{
    j = gc_get(j, path);

    return cJSON_IsArray(j) || cJSON_IsObject(j) ? cJSON_GetArraySize(j) : -1;
}


typedef struct {
    q2api_request_t   req;
    q2api_buf_t       out;
    q2api_error_t     err;
    int               rc;
    cJSON            *root;
    cJSON            *r;        /* root.request */
} gc_built_t;


/* body with ' for "; rc is the build's; root NULL if it did not build */
static GC_UNUSED int
gc_build(gc_built_t *b, const char *body, const char *model,
    unsigned flavour)
{
    int                   rc;
    char                 *s;
    q2api_gemini_opts_t   opts;

    memset(b, 0, sizeof(gc_built_t));
    q2api_request_init(&b->req);
    q2api_buf_init(&b->out, 0);

    s = jq(body);
    rc = q2api_claude_parse(&b->req, s, strlen(s), &b->err);
    free(s);

    if (rc != Q2API_OK) {
        diag("parse: %s", b->err.message);
        b->rc = -99;
        return -99;
    }

    memset(&opts, 0, sizeof(opts));
    opts.model_id.data = model;
    opts.model_id.len = strlen(model);
    opts.project = (q2api_str_t) q2api_str_lit("proud-quasar-abc12");
    opts.flavour = flavour;

    b->rc = q2api_gemini_build(&b->req, &opts, &b->out, &b->err);

    if (b->rc == Q2API_OK) {
        b->root = cJSON_ParseWithLength((char *) b->out.data, b->out.len);

        if (b->root == NULL) {
            diag("not JSON: %.*s", (int) b->out.len, (char *) b->out.data);
        }

        b->r = gc_get(b->root, "request");
    }

    return b->rc;
}


static GC_UNUSED void
gc_free(gc_built_t *b)
{
    cJSON_Delete(b->root);
    q2api_buf_free(&b->out);
    q2api_request_free(&b->req);
}


#endif /* _GEMINI_CHECK_H_INCLUDED_ */
