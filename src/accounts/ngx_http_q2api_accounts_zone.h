/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The account pool's layout in shared memory and the helpers its files
 * share; private to src/accounts (everyone else goes through
 * ngx_http_q2api_accounts.h).
 *
 * Accounts live in an rbtree by id (for the store and the admin API).
 * Those usable now are also in a dense rotation array, so that choosing
 * one costs the same for ten accounts or ten thousand; those cooling down
 * or waiting for a quota reset sit in a second rbtree ordered by the time
 * they come back, and return to the rotation when a pick finds them due.
 * Changed accounts queue up for the store loop.  Conversations bound to an
 * account (affinity) are a third rbtree with an LRU queue.  Only pointers
 * into the zone itself are stored.  Every function here expects the
 * zone's mutex held.
 */

#ifndef _NGX_HTTP_Q2API_ACCOUNTS_ZONE_H_INCLUDED_
#define _NGX_HTTP_Q2API_ACCOUNTS_ZONE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_q2api_accounts.h"
#include "ngx_http_q2api_kind.h"


/* a model out on one account: bounded, in the account itself */
#define NGX_HTTP_Q2API_MODEL_COOLS  4
#define NGX_HTTP_Q2API_MODEL_LEN    64

typedef struct {
    time_t                     until;
    size_t                     len;
    u_char                     model[NGX_HTTP_Q2API_MODEL_LEN];
} ngx_http_q2api_model_cool_t;


typedef struct {
    ngx_str_node_t             id;            /* first: the by-id tree's
                                                 node is the account */
    ngx_rbtree_node_t          cool;          /* key: until */
    ngx_queue_t                dirty;
    ngx_int_t                  rot;           /* -1: not in rotation */
    ngx_uint_t                 slot;
    ngx_uint_t                 generation;
    ngx_uint_t                 throttle_level;
    unsigned                   cooling:1;
    unsigned                   queued:1;
    unsigned                   deleted:1;     /* a tombstone for the store */
    unsigned                   flavour_named:1; /* in other, not inferred */

    ngx_pid_t                  refresh_pid;   /* refreshing its token */
    ngx_msec_t                 refresh_since;
    ngx_uint_t                 db_lease;      /* NGX_HTTP_Q2API_DBLEASE_* */
    time_t                     discover_since; /* a Gemini project lookup
                                                  runs since then */
    time_t                     quota_read_at; /* a Gemini quota read began */

    ngx_uint_t                 type;
    ngx_uint_t                 flavour;       /* Gemini accounts' */
    ngx_http_q2api_model_cool_t  models_out[NGX_HTTP_Q2API_MODEL_COOLS];
    ngx_flag_t                 enabled;
    ngx_uint_t                 status;
    time_t                     status_since;
    time_t                     until;
    time_t                     token_expires;
    time_t                     last_used;
    time_t                     created_at;
    time_t                     updated_at;

    uint64_t                   successes;
    uint64_t                   errors;
    uint64_t                   consecutive_errors;
    uint64_t                   tokens_in;
    uint64_t                   tokens_out;
    uint64_t                   d_successes;
    uint64_t                   d_errors;
    uint64_t                   d_tokens_in;
    uint64_t                   d_tokens_out;

    /* slab copies, like id; freed as a run from label to last_error */
    ngx_str_t                  label;
    ngx_str_t                  client_id;
    ngx_str_t                  client_secret;
    ngx_str_t                  refresh_token;
    ngx_str_t                  access_token;
    ngx_str_t                  profile_arn;
    ngx_str_t                  other;
    ngx_str_t                  project;       /* other.project */
    ngx_str_t                  endpoint;      /* other.api_endpoint */
    ngx_str_t                  reason;
    ngx_str_t                  last_error;
} ngx_http_q2api_account_t;


typedef struct {
    ngx_str_node_t             key;           /* key.str: md5 below */
    ngx_queue_t                lru;
    u_char                     md5[16];
    time_t                     last;
    ngx_str_t                  account;       /* slab copy of the id */
} ngx_http_q2api_affinity_t;


typedef struct {
    ngx_queue_t                queue;
    time_t                     expires;
    ngx_str_t                  key;           /* slab copies */
    ngx_str_t                  value;
} ngx_http_q2api_kv_t;


struct ngx_http_q2api_accounts_sh_s {
    ngx_rbtree_t               byid;
    ngx_rbtree_node_t          byid_sentinel;
    ngx_rbtree_t               cool;
    ngx_rbtree_node_t          cool_sentinel;
    ngx_rbtree_t               aff;
    ngx_rbtree_node_t          aff_sentinel;
    ngx_queue_t                aff_lru;
    ngx_queue_t                dirty;

    ngx_http_q2api_account_t **all;
    ngx_uint_t                 nall;
    ngx_uint_t                 allcap;
    ngx_http_q2api_account_t **rot;
    ngx_uint_t                 nrot;
    ngx_uint_t                 rotcap;

    ngx_atomic_t               rr;
    ngx_uint_t                 generation;

    ngx_pid_t                  lease_pid;
    ngx_msec_t                 lease_beat;

    /* a hint for the store loop: some refresh lease is wanted, or is to
     * be released; read without the lock */
    ngx_uint_t                 db_lease_work;
    ngx_pid_t                  db_lease_up;   /* the store that can answer */

    ngx_queue_t                kv_queue;
};


/* zone.c: the by-id tree, slab strings, where an account sits */
ngx_http_q2api_account_t *ngx_http_q2api_accounts_lookup(
    ngx_http_q2api_accounts_t *accounts, ngx_str_t *id);
ngx_int_t ngx_http_q2api_accounts_set_str(ngx_http_q2api_accounts_t *accounts,
    ngx_str_t *dst, ngx_str_t *src);
void ngx_http_q2api_accounts_set_cstr(ngx_http_q2api_accounts_t *accounts,
    ngx_str_t *dst, const char *s);
ngx_int_t ngx_http_q2api_accounts_place(ngx_http_q2api_accounts_t *accounts,
    ngx_http_q2api_account_t *a);
void ngx_http_q2api_accounts_mark(ngx_http_q2api_accounts_t *accounts,
    ngx_http_q2api_account_t *a);
void ngx_http_q2api_accounts_unlink(ngx_http_q2api_accounts_t *accounts,
    ngx_http_q2api_account_t *a);
void ngx_http_q2api_accounts_free(ngx_http_q2api_accounts_t *accounts,
    ngx_http_q2api_account_t *a);
ngx_int_t ngx_http_q2api_accounts_export_one(ngx_http_q2api_account_t *a,
    ngx_pool_t *p, ngx_http_q2api_account_data_t *d);

/* health.c */
void ngx_http_q2api_accounts_wake(ngx_http_q2api_accounts_t *accounts,
    time_t now);
void ngx_http_q2api_accounts_cool(ngx_http_q2api_accounts_t *accounts,
    ngx_http_q2api_account_t *a, time_t now, const char *reason);


#endif /* _NGX_HTTP_Q2API_ACCOUNTS_ZONE_H_INCLUDED_ */
