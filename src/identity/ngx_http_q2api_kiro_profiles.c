/*
 * Copyright (C) ngx_http_q2api_module authors
 */


#include "ngx_http_q2api.h"
#include "ngx_http_q2api_identity.h"
#include "ngx_http_q2api_kiro_profiles.h"


typedef struct {
    ngx_str_t                        id;
    ngx_http_q2api_profile_done_pt   done;
    void                            *data;
} ngx_http_q2api_profile_t;


static void ngx_http_q2api_profiles_answer(ngx_http_request_t *r,
    void *data, ngx_int_t status, ngx_str_t *body);


/*
 * ListAvailableProfiles, REST form, at the login's region; the first
 * profile is the one the Kiro IDE selects by itself.
 */
ngx_int_t
ngx_http_q2api_kiro_profile(ngx_http_request_t *r, ngx_str_t *id,
    ngx_str_t *region, ngx_str_t *access_token,
    ngx_http_q2api_profile_done_pt done, void *data)
{
    ngx_str_t                   url, body;
    ngx_http_q2api_profile_t   *pf;
    ngx_http_q2api_loc_conf_t  *qlcf;

    qlcf = ngx_http_get_module_loc_conf(r, ngx_http_q2api_module);

    if (ngx_http_q2api_region_url(r->pool, &qlcf->kiro_profiles_url,
                                  region->len ? region
                                  : &ngx_http_q2api_home_region,
                                  0, &url)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    pf = ngx_palloc(r->pool, sizeof(ngx_http_q2api_profile_t));
    if (pf == NULL) {
        return NGX_ERROR;
    }

    pf->id = *id;
    pf->done = done;
    pf->data = data;

    ngx_str_set(&body, "{\"maxResults\":10}");

    r->connection->log->action = "looking up a Kiro profile";

    return ngx_http_q2api_identity_call(r, "POST", &url, access_token, &body,
                                        ngx_http_q2api_profiles_answer, pf);
}


static void
ngx_http_q2api_profiles_answer(ngx_http_request_t *r, void *data,
    ngx_int_t status, ngx_str_t *body)
{
    ngx_http_q2api_profile_t  *pf = data;

    cJSON                       *o;
    ngx_str_t                    found;
    const char                  *arn;
    ngx_http_q2api_main_conf_t  *qmcf;

    qmcf = ngx_http_get_module_main_conf(r, ngx_http_q2api_module);

    o = (status == NGX_HTTP_OK && body->len)
        ? ngx_http_q2api_identity_parse(r->pool, body) : NULL;

    if (q2api_answer_profile(o, &arn) != Q2API_OK) {
        ngx_http_q2api_identity_refused(r->connection->log,
                                        "ListAvailableProfiles answer",
                                        "arn", Q2API_CHECK_ARN);
    }

    if (arn != NULL) {
        found.data = (u_char *) arn;
        found.len = ngx_strlen(arn);

        ngx_http_q2api_accounts_learn_profile(qmcf->accounts, &pf->id, &found);

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "q2api: account \"%V\" uses Kiro profile \"%V\"",
                      &pf->id, &found);

    } else {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "q2api: ListAvailableProfiles for account \"%V\" "
                      "found no profile (status %i)", &pf->id, status);
    }

    cJSON_Delete(o);

    pf->done(r, pf->data);
}
