/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The model table: the built-in Claude models, plus and over them the
 * q2api_model entries of the location; client names resolved to backend
 * ids; GET /v1/models and /v1/models/{id}, paged as Anthropic's API pages
 * them and written in the front end's shape.
 */


#include "ngx_http_q2api.h"
#include "q2api_models.h"


typedef struct {
    const q2api_model_t  **list;
    ngx_uint_t             n;
} ngx_http_q2api_model_list_t;


static ngx_int_t ngx_http_q2api_models_collect(ngx_http_request_t *r,
    ngx_http_q2api_loc_conf_t *qlcf, ngx_http_q2api_model_list_t *ml);
static ngx_uint_t ngx_http_q2api_gemini_model_name(q2api_str_t *name);


char *
ngx_http_q2api_model_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_q2api_loc_conf_t *qlcf = conf;

    char                *p;
    ngx_str_t           *value;
    ngx_uint_t           i;
    q2api_model_t       *m;
    const q2api_back_t  *back;

    value = cf->args->elts;

    if (cf->args->nelts > 5) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "too many arguments in \"q2api_model\"");
        return NGX_CONF_ERROR;
    }

    if (qlcf->models == NGX_CONF_UNSET_PTR || qlcf->models == NULL) {
        qlcf->models = ngx_array_create(cf->pool, 4, sizeof(q2api_model_t));
        if (qlcf->models == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    m = ngx_array_push(qlcf->models);
    if (m == NULL) {
        return NGX_CONF_ERROR;
    }

    /* the listed id is stored normalised, the way names are looked up */
    p = ngx_pnalloc(cf->pool, value[1].len + 1);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    i = 0;

    if (q2api_model_normalize((char *) value[1].data, value[1].len, p,
                              value[1].len + 1, (int *) &i) == 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid model name \"%V\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    m->id = p;
    m->upstream = (char *) value[2].data;
    m->display = (char *) value[1].data;
    m->created = "2025-01-01T00:00:00Z";
    m->back = NULL;

    /* [display] [backend=name], in either order */
    for (i = 3; i < cf->args->nelts; i++) {
        if (value[i].len > 8
            && ngx_strncmp(value[i].data, "backend=", 8) == 0)
        {
            back = q2api_back_find((char *) value[i].data + 8,
                                   value[i].len - 8);
            if (back == NULL) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "unknown back end in \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            m->back = back->name;
            continue;
        }

        m->display = (char *) value[i].data;
    }

    if (m->back == NULL) {
        m->back = q2api_model_back((char *) value[1].data, value[1].len);
    }

    return NGX_CONF_OK;
}


/*
 * A client's model name to the backend id and the back end that serves
 * it: the location's own entries first, then the built-in table, then a
 * Gemini name as it is, then q2api_default_model.  On amq2api's
 * /v1/gemini/messages every name asks for Gemini accounts: a Claude name
 * is then Claude on Antigravity, which names its models as our table
 * lists them.
 */
ngx_int_t
ngx_http_q2api_resolve_model(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx, q2api_str_t *upstream, q2api_error_t *err)
{
    int                   thinking;
    char                  name[128];
    ngx_uint_t            i;
    q2api_model_t        *m;
    const q2api_model_t  *bm;

    thinking = 0;
    ctx->alt_model_id.len = 0;

    if (q2api_model_normalize(ctx->req.model.data, ctx->req.model.len,
                              name, sizeof(name), &thinking)
        == 0)
    {
        goto unknown;
    }

    if (thinking) {
        /* "<model>-thinking" asks for thinking as the request would */
        ctx->req.thinking = 1;
    }

    bm = NULL;

    if (ctx->conf->models) {
        m = ctx->conf->models->elts;

        for (i = 0; i < ctx->conf->models->nelts; i++) {
            if (ngx_strcmp(m[i].id, name) == 0) {
                bm = &m[i];
                break;
            }
        }
    }

    if (bm == NULL) {
        bm = q2api_model_builtin(name);
    }

    if (bm != NULL) {
        upstream->data = bm->upstream;
        upstream->len = ngx_strlen(bm->upstream);
        ctx->back_name = bm->back ? bm->back : "amazonq";

        /* Antigravity serves Claude under the listed (dashed) ids */
        ctx->alt_model_id.data = bm->id;
        ctx->alt_model_id.len = ngx_strlen(bm->id);

        if (ctx->gemini_alias && ngx_strcmp(ctx->back_name, "gemini") != 0) {
            *upstream = ctx->alt_model_id;
            ctx->back_name = "gemini";
        }

        return NGX_OK;
    }

    if (ngx_strcmp(q2api_model_back(name, ngx_strlen(name)), "gemini") == 0
        && ngx_http_q2api_gemini_model_name(&ctx->req.model))
    {
        /* Google's names change often: any gemini-* is passed on */
        *upstream = ctx->req.model;
        ctx->back_name = "gemini";

        if (thinking) {
            upstream->len -= sizeof("-thinking") - 1;
        }
        return NGX_OK;
    }

unknown:

    if (ctx->conf->default_model.len) {
        upstream->data = (char *) ctx->conf->default_model.data;
        upstream->len = ctx->conf->default_model.len;
        ctx->back_name = ctx->gemini_alias
                         ? "gemini"
                         : q2api_model_back(upstream->data, upstream->len);
        return NGX_OK;
    }

    q2api_error_set(err, Q2API_ERR_NOT_FOUND, "model: %.*s",
                    (int) ngx_min(ctx->req.model.len, 200),
                    ctx->req.model.data);

    return NGX_DECLINED;
}


/* a Gemini model id as the client sent it: lower-case letters, digits,
 * "." and "-", as Google names them (it goes into the upstream body) */
static ngx_uint_t
ngx_http_q2api_gemini_model_name(q2api_str_t *name)
{
    size_t  i;
    u_char  c;

    if (name->len > 64) {
        return 0;
    }

    for (i = 0; i < name->len; i++) {
        c = (u_char) name->data[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.'
              || c == '-'))
        {
            return 0;
        }
    }

    return 1;
}


static ngx_int_t
ngx_http_q2api_models_collect(ngx_http_request_t *r,
    ngx_http_q2api_loc_conf_t *qlcf, ngx_http_q2api_model_list_t *ml)
{
    ngx_uint_t            i, j, n;
    q2api_model_t        *m;
    const q2api_model_t  *bm;

    n = qlcf->models ? qlcf->models->nelts : 0;

    for (bm = q2api_builtin_models; bm->id; bm++) {
        n++;
    }

    ml->list = ngx_palloc(r->pool, n * sizeof(q2api_model_t *));
    if (ml->list == NULL) {
        return NGX_ERROR;
    }

    ml->n = 0;

    if (qlcf->models) {
        m = qlcf->models->elts;

        for (i = 0; i < qlcf->models->nelts; i++) {
            ml->list[ml->n++] = &m[i];
        }
    }

    /* built-ins not redefined by the location */
    for (bm = q2api_builtin_models; bm->id; bm++) {
        for (j = 0; j < ml->n; j++) {
            if (ngx_strcmp(ml->list[j]->id, bm->id) == 0) {
                break;
            }
        }

        if (j == ml->n) {
            ml->list[ml->n++] = bm;
        }
    }

    return NGX_OK;
}


/* GET .../models (id == NULL) and .../models/{id} */
ngx_int_t
ngx_http_q2api_models_handler(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx, ngx_str_t *id)
{
    char                         name[128];
    int                          thinking;
    ngx_int_t                    rc, limit;
    ngx_str_t                    value;
    ngx_uint_t                   i, first, last, backward, more;
    q2api_buf_t                  b;
    ngx_http_q2api_model_list_t  ml;

    if (ngx_http_q2api_models_collect(r, ctx->conf, &ml) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    q2api_buf_init(&b, 0);

    if (id != NULL) {
        thinking = 0;

        if (q2api_model_normalize((char *) id->data, id->len, name,
                                  sizeof(name), &thinking) != 0)
        {
            for (i = 0; i < ml.n; i++) {
                if (ngx_strcmp(ml.list[i]->id, name) == 0) {
                    break;
                }
            }

        } else {
            i = ml.n;
        }

        if (i == ml.n) {
            q2api_buf_free(&b);

            ngx_memzero(name, sizeof(name));
            ngx_snprintf((u_char *) name, sizeof(name) - 1, "model: %V", id);

            return ngx_http_q2api_send_error(r, ctx, Q2API_ERR_NOT_FOUND,
                                             name);
        }

        if (ctx->front->model(&b, ml.list[i]) != Q2API_OK) {
            goto failed;
        }

        goto send;
    }

    if (!ctx->front->models_paged) {
        first = 0;
        last = ml.n;
        more = 0;
        goto page;
    }

    /* Anthropic's pagination: limit, after_id, before_id */
    limit = 20;

    if (ngx_http_arg(r, (u_char *) "limit", 5, &value) == NGX_OK) {
        limit = ngx_atoi(value.data, value.len);

        if (limit < 1 || limit > 1000) {
            q2api_buf_free(&b);
            return ngx_http_q2api_send_error(r, ctx,
                                             Q2API_ERR_INVALID_REQUEST,
                                             "limit: expected an integer "
                                             "from 1 to 1000");
        }
    }

    first = 0;
    last = ml.n;
    backward = 0;

    if (ngx_http_arg(r, (u_char *) "after_id", 8, &value) == NGX_OK
        || (backward = 1,
            ngx_http_arg(r, (u_char *) "before_id", 9, &value) == NGX_OK))
    {
        for (i = 0; i < ml.n; i++) {
            if (ngx_strlen(ml.list[i]->id) == value.len
                && ngx_strncmp(ml.list[i]->id, value.data, value.len) == 0)
            {
                break;
            }
        }

        if (i == ml.n) {
            q2api_buf_free(&b);
            return ngx_http_q2api_send_error(r, ctx,
                                             Q2API_ERR_INVALID_REQUEST,
                                             backward
                                             ? "before_id: no such model"
                                             : "after_id: no such model");
        }

        if (backward) {
            /* the page just before it */
            last = i;
            first = last > (ngx_uint_t) limit ? last - limit : 0;

        } else {
            first = i + 1;
        }

    } else {
        backward = 0;
    }

    if (last > first + limit) {
        last = first + limit;
    }

    /* more in the direction the client pages */
    more = backward ? first > 0 : last < ml.n;

page:

    if (ctx->front->model_page(&b, ml.list, first, last, more)
        != Q2API_OK)
    {
        goto failed;
    }

send:

    rc = ngx_http_q2api_send_json(r, ctx, NGX_HTTP_OK, b.data, b.len);
    q2api_buf_free(&b);

    return rc;

failed:

    q2api_buf_free(&b);

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}
