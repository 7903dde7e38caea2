/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Where the identity services are, and the JSON they speak.
 */


#include "ngx_http_q2api.h"
#include "ngx_http_q2api_identity.h"


ngx_int_t
ngx_http_q2api_region_url(ngx_pool_t *pool, ngx_str_t *base,
    ngx_str_t *region, size_t extra, ngx_str_t *url)
{
    u_char  *p, *end;

    /* the last guard before a host name: whatever the region came from */
    if (q2api_check(Q2API_CHECK_REGION, (char *) region->data, region->len)
        != Q2API_OK)
    {
        ngx_log_error(NGX_LOG_ERR, pool->log, 0,
                      "q2api: a region that is no AWS region name was "
                      "refused for an identity service URL");
        return NGX_ERROR;
    }

    url->data = ngx_pnalloc(pool, base->len + region->len + extra);
    if (url->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_strlcasestrn(base->data, base->data + base->len,
                         (u_char *) "{region}", sizeof("{region}") - 2);

    if (p != NULL) {
        end = ngx_cpymem(url->data, base->data, p - base->data);
        end = ngx_cpymem(end, region->data, region->len);
        end = ngx_cpymem(end, p + sizeof("{region}") - 1,
                         base->data + base->len - p - sizeof("{region}") + 1);

    } else {
        end = ngx_cpymem(url->data, base->data, base->len);
    }

    url->len = end - url->data;

    return NGX_OK;
}


/*
 * The Kiro IDE import records the region in "other": a name that goes
 * into a host name, so only an AWS region name is taken.
 */
ngx_int_t
ngx_http_q2api_login_region(ngx_pool_t *pool, ngx_str_t *other,
    ngx_str_t *region)
{
    size_t   len;
    cJSON   *o, *item;

    if (other->len == 0) {
        return NGX_DECLINED;
    }

    o = cJSON_ParseWithLength((char *) other->data, other->len);
    item = cJSON_GetObjectItemCaseSensitive(o, "region");

    len = cJSON_IsString(item) ? ngx_strlen(item->valuestring) : 0;

    if (len == 0
        || q2api_check(Q2API_CHECK_REGION, item->valuestring, len)
           != Q2API_OK)
    {
        cJSON_Delete(o);
        return NGX_DECLINED;
    }

    region->data = ngx_pnalloc(pool, len);
    if (region->data == NULL) {
        cJSON_Delete(o);
        return NGX_ERROR;
    }

    ngx_memcpy(region->data, item->valuestring, len);
    region->len = len;

    cJSON_Delete(o);

    return NGX_OK;
}


ngx_int_t
ngx_http_q2api_oidc_url(ngx_http_request_t *r, const char *op,
    ngx_str_t *region, ngx_str_t *url)
{
    u_char                     *p;
    size_t                      len;
    ngx_http_q2api_loc_conf_t  *qlcf;

    qlcf = ngx_http_get_module_loc_conf(r, ngx_http_q2api_module);

    len = ngx_strlen(op);

    if (ngx_http_q2api_region_url(r->pool, &qlcf->oidc_url,
                                  region ? region
                                         : &ngx_http_q2api_home_region,
                                  1 + len, url)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    p = url->data + url->len;
    *p++ = '/';
    p = ngx_cpymem(p, op, len);
    url->len = p - url->data;

    return NGX_OK;
}


ngx_int_t
ngx_http_q2api_identity_call(ngx_http_request_t *r, char *method,
    ngx_str_t *url, ngx_str_t *access_token, ngx_str_t *body,
    ngx_http_q2api_call_done_pt done, void *data)
{
    ngx_http_q2api_call_req_t  req;

    ngx_memzero(&req, sizeof(ngx_http_q2api_call_req_t));

    req.method.data = (u_char *) method;
    req.method.len = ngx_strlen(method);
    req.url = *url;
    req.body = *body;

    if (access_token
        && ngx_http_q2api_bearer(r->pool, access_token, &req.authorization)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_q2api_call(r, &req, done, data, NULL);
}


ngx_int_t
ngx_http_q2api_oidc_call(ngx_http_request_t *r, const char *op,
    ngx_str_t *region, ngx_str_t *body, ngx_http_q2api_call_done_pt done,
    void *data)
{
    ngx_str_t  url;

    if (ngx_http_q2api_oidc_url(r, op, region, &url) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_q2api_identity_call(r, "POST", &url, NULL, body, done,
                                        data);
}


ngx_int_t
ngx_http_q2api_json_body(ngx_http_request_t *r, cJSON *o, ngx_str_t *out)
{
    char  *text;

    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);

    if (text == NULL) {
        return NGX_ERROR;
    }

    out->len = ngx_strlen(text);
    out->data = ngx_pnalloc(r->pool, out->len);

    if (out->data == NULL) {
        cJSON_free(text);
        return NGX_ERROR;
    }

    ngx_memcpy(out->data, text, out->len);
    cJSON_free(text);

    return NGX_OK;
}


char *
ngx_http_q2api_cstr(ngx_pool_t *pool, ngx_str_t *s)
{
    u_char  *p;

    p = ngx_pnalloc(pool, s->len + 1);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, s->data, s->len);
    p[s->len] = '\0';

    return (char *) p;
}


cJSON *
ngx_http_q2api_identity_parse(ngx_pool_t *pool, ngx_str_t *body)
{
    return q2api_answer_parse((char *) body->data, body->len);
}


const char *
ngx_http_q2api_jstr(cJSON *o, const char *key)
{
    cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsString(item) ? item->valuestring : NULL;
}


ngx_int_t
ngx_http_q2api_jstr_check(ngx_log_t *log, cJSON *o, const char *key,
    q2api_check_e what, const char *from, const char **value)
{
    if (q2api_answer_member(o, key, what, value) != Q2API_OK) {
        ngx_http_q2api_identity_refused(log, from, key, what);
        return NGX_ERROR;
    }

    return (*value == NULL) ? NGX_DECLINED : NGX_OK;
}


void
ngx_http_q2api_identity_refused(ngx_log_t *log, const char *from,
    const char *key, q2api_check_e what)
{
    /* the name only: the value may be a credential, or made to forge log
     * lines */
    ngx_log_error(NGX_LOG_WARN, log, 0, "q2api: %s: \"%s\" refused: it %s",
                  from, key, q2api_check_rule(what));
}


double
ngx_http_q2api_jnum(cJSON *o, const char *key, double dflt)
{
    return q2api_answer_number(o, key, dflt);
}
