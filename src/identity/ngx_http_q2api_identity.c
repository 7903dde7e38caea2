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
 * into a host name, so anything but [a-z0-9-] is ignored.
 */
ngx_int_t
ngx_http_q2api_login_region(ngx_pool_t *pool, ngx_str_t *other,
    ngx_str_t *region)
{
    size_t   i, len;
    cJSON   *o, *item;
    u_char   c;

    if (other->len == 0) {
        return NGX_DECLINED;
    }

    o = cJSON_ParseWithLength((char *) other->data, other->len);
    item = cJSON_GetObjectItemCaseSensitive(o, "region");

    if (!cJSON_IsString(item)) {
        cJSON_Delete(o);
        return NGX_DECLINED;
    }

    len = ngx_strlen(item->valuestring);

    for (i = 0; i < len; i++) {
        c = item->valuestring[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            break;
        }
    }

    if (len == 0 || len > 32 || i < len) {
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


const char *
ngx_http_q2api_jstr(cJSON *o, const char *key)
{
    cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsString(item) ? item->valuestring : NULL;
}


double
ngx_http_q2api_jnum(cJSON *o, const char *key, double dflt)
{
    cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsNumber(item) ? item->valuedouble : dflt;
}
