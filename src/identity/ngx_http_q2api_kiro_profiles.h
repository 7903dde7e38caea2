/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Kiro profiles: a Kiro Identity Center login carries no profileArn, and
 * Kiro refuses chats without one, so it is looked up after a refresh
 * (ListAvailableProfiles).  Private to src/identity.
 */

#ifndef _NGX_HTTP_Q2API_KIRO_PROFILES_H_INCLUDED_
#define _NGX_HTTP_Q2API_KIRO_PROFILES_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* the lookup is over; the account has learned its profile if one came */
typedef void (*ngx_http_q2api_profile_done_pt)(ngx_http_request_t *r,
    void *data);

/*
 * Looks up the profile of account "id" (region: its login's, empty for
 * us-east-1) with its new access token, and records it in the zone.
 * NGX_OK: done will be called.
 */
ngx_int_t ngx_http_q2api_kiro_profile(ngx_http_request_t *r, ngx_str_t *id,
    ngx_str_t *region, ngx_str_t *access_token,
    ngx_http_q2api_profile_done_pt done, void *data);


#endif /* _NGX_HTTP_Q2API_KIRO_PROFILES_H_INCLUDED_ */
