/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The account pool in shared memory, and what a store exchanges with it.
 */

#ifndef _NGX_HTTP_Q2API_ACCOUNTS_H_INCLUDED_
#define _NGX_HTTP_Q2API_ACCOUNTS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* why an account is out of rotation */
typedef enum {
    NGX_HTTP_Q2API_ST_ACTIVE = 0,
    NGX_HTTP_Q2API_ST_COOLING,        /* throttled: back at cooldown_until */
    NGX_HTTP_Q2API_ST_QUOTA,          /* quota used up: back at its reset */
    NGX_HTTP_Q2API_ST_SUSPENDED,      /* locked by the backend */
    NGX_HTTP_Q2API_ST_TOKEN,          /* token rejected: needs a refresh */
    NGX_HTTP_Q2API_ST_NEEDS_LOGIN,    /* refresh refused: needs a login */
    NGX_HTTP_Q2API_ST_ERRORS,         /* too many consecutive errors */
    NGX_HTTP_Q2API_ST_NEEDS_VALIDATION, /* Google wants the user to verify
                                           (the URL in other) */
    NGX_HTTP_Q2API_ST_INELIGIBLE      /* no Code Assist tier for it */
} ngx_http_q2api_status_e;


/* what happened to one attempt, for the account's health */
typedef enum {
    NGX_HTTP_Q2API_OUT_SUCCESS = 0,
    NGX_HTTP_Q2API_OUT_CLIENT,        /* the request's fault: no penalty */
    NGX_HTTP_Q2API_OUT_CAPACITY,      /* the service's: no penalty */
    NGX_HTTP_Q2API_OUT_AUTH,
    NGX_HTTP_Q2API_OUT_SUSPENDED,
    NGX_HTTP_Q2API_OUT_QUOTA,
    NGX_HTTP_Q2API_OUT_THROTTLED,
    NGX_HTTP_Q2API_OUT_ERROR          /* anything else that is its fault */
} ngx_http_q2api_outcome_e;


#define NGX_HTTP_Q2API_SELECT_RANDOM       0
#define NGX_HTTP_Q2API_SELECT_ROUND_ROBIN  1
#define NGX_HTTP_Q2API_SELECT_LEAST_USED   2


/*
 * One account as stores read and write it, in process memory: the fields
 * of q2api's accounts table plus the state this module adds.
 */
typedef struct {
    ngx_str_t                  id;
    ngx_str_t                  label;
    ngx_uint_t                 type;          /* NGX_HTTP_Q2API_ACCOUNT_* */
    ngx_str_t                  client_id;
    ngx_str_t                  client_secret;
    ngx_str_t                  refresh_token;
    ngx_str_t                  access_token;
    ngx_str_t                  profile_arn;
    ngx_str_t                  other;         /* JSON object text */
    ngx_flag_t                 enabled;

    /* Gemini accounts: read out of other (other.project,
     * other.api_endpoint, other.flavour) and checked where they enter */
    ngx_str_t                  project;
    ngx_str_t                  api_endpoint;
    ngx_uint_t                 flavour;       /* NGX_HTTP_Q2API_GEMINI_* */
    unsigned                   flavour_named:1; /* else inferred */

    ngx_uint_t                 status;        /* ngx_http_q2api_status_e */
    ngx_str_t                  reason;
    time_t                     status_since;
    time_t                     until;         /* cooldown / quota reset */
    time_t                     token_expires;

    uint64_t                   successes;
    uint64_t                   errors;
    uint64_t                   consecutive_errors;
    uint64_t                   tokens_in;
    uint64_t                   tokens_out;
    time_t                     last_used;
    ngx_str_t                  last_error;
    time_t                     created_at;
    time_t                     updated_at;

    /* counted here and not yet written: stores shared by several nodes
     * add these instead of overwriting the totals */
    uint64_t                   d_successes;
    uint64_t                   d_errors;
    uint64_t                   d_tokens_in;
    uint64_t                   d_tokens_out;

    ngx_flag_t                 deleted;       /* removed through this node */
    ngx_flag_t                 db_lease_release; /* with this write */
} ngx_http_q2api_account_data_t;


/* which fields an upsert takes from the store */
#define NGX_HTTP_Q2API_SET_CONFIG    0x01   /* label, credentials, enabled */
#define NGX_HTTP_Q2API_SET_STATE     0x02   /* status, reason, until */
#define NGX_HTTP_Q2API_SET_COUNTERS  0x04   /* totals */
#define NGX_HTTP_Q2API_SET_ALL       0x07
#define NGX_HTTP_Q2API_SET_DIRTY     0x08   /* a local change: persist it */


typedef struct ngx_http_q2api_accounts_sh_s  ngx_http_q2api_accounts_sh_t;

/* per cycle; everything shared is behind sh */
typedef struct {
    ngx_http_q2api_accounts_sh_t  *sh;
    ngx_slab_pool_t               *shpool;
    ngx_shm_zone_t                *shm_zone;
    struct ngx_http_q2api_store_s *store;
    ngx_uint_t                     max_errors;
} ngx_http_q2api_accounts_t;


/* what an attempt takes out of the pool */
typedef struct {
    ngx_str_t                  id;
    ngx_str_t                  access_token;
    ngx_str_t                  profile_arn;
    ngx_uint_t                 type;
    time_t                     token_expires;
    unsigned                   refreshable:1;

    /* Gemini accounts: the Code Assist project (empty: not found yet),
     * the endpoint (empty: the flavour's), the flavour */
    ngx_str_t                  project;
    ngx_str_t                  endpoint;
    ngx_uint_t                 flavour;
    time_t                     quota_read_at; /* its last quota read */
} ngx_http_q2api_pick_t;


typedef struct {
    ngx_uint_t                 strategy;      /* NGX_HTTP_Q2API_SELECT_* */
    ngx_str_t                  affinity;      /* session key, or empty */
    time_t                     affinity_timeout;
    ngx_str_t                  want;          /* a chosen account id */
    ngx_uint_t                 force;         /* want it even out of
                                                 rotation (admin tests) */
    ngx_str_t                 *exclude;       /* ids tried already */
    ngx_uint_t                 nexclude;

    /* the model asked for: accounts of its back end that have it (not
     * out of quota for it, not refusing it); NULL back: any account */
    const char                *back;
    ngx_str_t                  model;
    ngx_str_t                  alt_model;     /* Claude's id on Antigravity
                                                 accounts, which serve it
                                                 too; empty: they do not */
} ngx_http_q2api_select_t;


/* the zone (ngx_http_q2api_accounts_zone.c) */
ngx_http_q2api_accounts_t *ngx_http_q2api_accounts_create(ngx_conf_t *cf);
ngx_int_t ngx_http_q2api_accounts_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
ngx_uint_t ngx_http_q2api_accounts_size(ngx_http_q2api_accounts_t *accounts);


/*
 * Selection (ngx_http_q2api_accounts_select.c).  NGX_OK: *pick filled
 * (strings in p); NGX_DECLINED: nothing usable, and *retry_after says when
 * the first cooling account is back (0: none is); NGX_BUSY: the wanted
 * account is out of rotation; NGX_ERROR.
 */
ngx_int_t ngx_http_q2api_accounts_pick(ngx_http_q2api_accounts_t *accounts,
    ngx_pool_t *p, ngx_http_q2api_select_t *sel, ngx_http_q2api_pick_t *pick,
    time_t *retry_after);
/* a usable account's current token, for an attempt after a refresh */
ngx_int_t ngx_http_q2api_accounts_pick_id(
    ngx_http_q2api_accounts_t *accounts, ngx_pool_t *p, ngx_str_t *id,
    ngx_http_q2api_pick_t *pick);


/* health (ngx_http_q2api_accounts_health.c) */
void ngx_http_q2api_accounts_report(ngx_http_q2api_accounts_t *accounts,
    ngx_str_t *id, ngx_http_q2api_outcome_e outcome, const char *detail,
    uint64_t tokens_in, uint64_t tokens_out);
const char *ngx_http_q2api_status_name(ngx_uint_t status);
/*
 * One model out on one account until "until" (Gemini's per-model quota, a
 * model the account is not given); the account serves its other models.
 * A few models per account are remembered: a new one takes the place of
 * the one back soonest.
 */
void ngx_http_q2api_accounts_model_out(ngx_http_q2api_accounts_t *accounts,
    ngx_str_t *id, ngx_str_t *model, time_t until, const char *reason);
/* the reverse; NGX_HTTP_Q2API_ST_ACTIVE for a name it does not know */
ngx_uint_t ngx_http_q2api_status_from_name(u_char *name, size_t len);


/* for stores (ngx_http_q2api_accounts_sync.c) */
ngx_int_t ngx_http_q2api_accounts_upsert(ngx_http_q2api_accounts_t *accounts,
    ngx_http_q2api_account_data_t *d, ngx_uint_t fields,
    ngx_uint_t generation);
ngx_int_t ngx_http_q2api_accounts_remove(ngx_http_q2api_accounts_t *accounts,
    ngx_str_t *id);
void ngx_http_q2api_accounts_prune(ngx_http_q2api_accounts_t *accounts,
    ngx_uint_t generation);
ngx_uint_t ngx_http_q2api_accounts_next_generation(
    ngx_http_q2api_accounts_t *accounts);

/* for the admin API: one account's copy (NGX_DECLINED: no such id); a
 * deletion the store will carry out (take_dirty gives it with deleted) */
ngx_int_t ngx_http_q2api_accounts_get(ngx_http_q2api_accounts_t *accounts,
    ngx_str_t *id, ngx_pool_t *p, ngx_http_q2api_account_data_t *d);
ngx_int_t ngx_http_q2api_accounts_delete(ngx_http_q2api_accounts_t *accounts,
    ngx_str_t *id);

/* copies of the accounts changed since the last call; their deltas move
 * into the copies */
ngx_int_t ngx_http_q2api_accounts_take_dirty(
    ngx_http_q2api_accounts_t *accounts, ngx_pool_t *p, ngx_array_t *out);
/* the same, until out holds max (the rest stay dirty, in order) */
ngx_int_t ngx_http_q2api_accounts_take_dirty_n(
    ngx_http_q2api_accounts_t *accounts, ngx_pool_t *p, ngx_array_t *out,
    ngx_uint_t max);
/* a write failed: the deltas go back and the accounts are dirty again */
void ngx_http_q2api_accounts_return_dirty(ngx_http_q2api_accounts_t *accounts,
    ngx_array_t *taken);
/* copies of every account */
ngx_int_t ngx_http_q2api_accounts_export(ngx_http_q2api_accounts_t *accounts,
    ngx_pool_t *p, ngx_array_t *out);
/* the same n at a time, each part under the lock alone (a thread's) */
#define NGX_HTTP_Q2API_EXPORT_ALL  ((ngx_uint_t) -1)
ngx_int_t ngx_http_q2api_accounts_export_part(
    ngx_http_q2api_accounts_t *accounts, ngx_pool_t *p, ngx_array_t *out,
    ngx_uint_t *left, ngx_uint_t n);


/*
 * Leases (ngx_http_q2api_accounts_lease.c).
 *
 * The store lease: one worker at a time runs the store loop.  Returns 1
 * when this process holds it after the call (taken or renewed), 0 if
 * another live process does.  A holder silent for "stale" ms loses it.
 */
ngx_uint_t ngx_http_q2api_accounts_lease(ngx_http_q2api_accounts_t *accounts,
    ngx_msec_t stale);
void ngx_http_q2api_accounts_lease_release(
    ngx_http_q2api_accounts_t *accounts);

/*
 * Token refresh, one at a time per account across all workers.  begin:
 * NGX_OK (this process refreshes; *creds has what it needs), NGX_BUSY
 * (another one is at it), NGX_DECLINED (no such account, or nothing to
 * refresh with).  end: rc NGX_OK with fresh->access_token (and, when the
 * service rotated them, refresh_token, profile_arn), token_expires;
 * NGX_DECLINED for a permanent refusal (the account needs a new login);
 * NGX_ERROR for a transient failure; NGX_DONE: no refresh was needed (only
 * the leases are given up).
 */
ngx_int_t ngx_http_q2api_accounts_refresh_begin(
    ngx_http_q2api_accounts_t *accounts, ngx_str_t *id, ngx_pool_t *p,
    ngx_http_q2api_account_data_t *creds);
void ngx_http_q2api_accounts_refresh_end(ngx_http_q2api_accounts_t *accounts,
    ngx_str_t *id, ngx_int_t rc, ngx_http_q2api_account_data_t *fresh,
    const char *reason);
ngx_uint_t ngx_http_q2api_accounts_refreshing(
    ngx_http_q2api_accounts_t *accounts, ngx_str_t *id);
/*
 * Gemini accounts: what project discovery and quota reads learn, persisted
 * with the account.  other is the account's new "other" object (the
 * caller read the old one with accounts_get and changed its members);
 * project, when not NULL, the project found in it.  status, when not
 * NGX_HTTP_Q2API_ST_ACTIVE, puts the account out of rotation with reason
 * (needs_validation, ineligible); ACTIVE brings back an account that was
 * out for one of those.  NGX_DECLINED: no such account.
 */
ngx_int_t ngx_http_q2api_accounts_learn_other(
    ngx_http_q2api_accounts_t *accounts, ngx_str_t *id, ngx_str_t *other,
    ngx_str_t *project, ngx_uint_t status, const char *reason);

/*
 * One project discovery per Gemini account at a time, across workers:
 * begin NGX_OK (this caller runs it), NGX_BUSY (one started less than
 * "stale" seconds ago runs), NGX_DECLINED (no such Gemini account).
 */
ngx_int_t ngx_http_q2api_accounts_discover_begin(
    ngx_http_q2api_accounts_t *accounts, ngx_str_t *id, time_t stale);
/*
 * Whether Gemini account "id" should have its quota read now: NGX_OK
 * (and this caller reads it) when the last read began at least "every"
 * seconds ago, plus a jitter of up to a fifth of it that is the
 * account's own, so a pool's reads spread out; NGX_DECLINED otherwise.
 */
ngx_int_t ngx_http_q2api_accounts_quota_due(
    ngx_http_q2api_accounts_t *accounts, ngx_str_t *id, time_t every);
void ngx_http_q2api_accounts_discover_end(ngx_http_q2api_accounts_t *accounts,
    ngx_str_t *id);

/* a profileArn found for an account that had none; persisted */
void ngx_http_q2api_accounts_learn_profile(
    ngx_http_q2api_accounts_t *accounts, ngx_str_t *id,
    ngx_str_t *profile_arn);

/*
 * The store lease of a refresh, across nodes sharing a database.  The
 * refresher (holding the lease above) asks; state says where the request
 * is (and the zone's token expiry; GRANTED fills *creds with what to
 * refresh with, read from the database when it was granted); drop gives it
 * up.  refresh_end releases a granted one with the account's next write.
 * The store loop: work (a hint, without the lock), take (WANTED -> ASKED,
 * their ids into ids; *release: some wait to be released with a write),
 * answer (row: the account's row, read after the lease was taken).
 */
#define NGX_HTTP_Q2API_DBLEASE_NONE     0
#define NGX_HTTP_Q2API_DBLEASE_WANTED   1
#define NGX_HTTP_Q2API_DBLEASE_ASKED    2
#define NGX_HTTP_Q2API_DBLEASE_GRANTED  3
#define NGX_HTTP_Q2API_DBLEASE_DENIED   4
#define NGX_HTTP_Q2API_DBLEASE_RELEASE  5

void ngx_http_q2api_accounts_db_lease_ask(ngx_http_q2api_accounts_t *accounts,
    ngx_str_t *id);
ngx_uint_t ngx_http_q2api_accounts_db_lease_state(
    ngx_http_q2api_accounts_t *accounts, ngx_str_t *id, time_t *token_expires,
    ngx_pool_t *p, ngx_http_q2api_account_data_t *creds);
void ngx_http_q2api_accounts_db_lease_drop(ngx_http_q2api_accounts_t *accounts,
    ngx_str_t *id);
ngx_uint_t ngx_http_q2api_accounts_db_lease_work(
    ngx_http_q2api_accounts_t *accounts);
/* the store says whether it is connected, so that refreshers know whether
 * an answer is coming */
void ngx_http_q2api_accounts_db_lease_up(ngx_http_q2api_accounts_t *accounts,
    ngx_uint_t up);
ngx_uint_t ngx_http_q2api_accounts_db_lease_is_up(
    ngx_http_q2api_accounts_t *accounts);
ngx_int_t ngx_http_q2api_accounts_db_lease_take(
    ngx_http_q2api_accounts_t *accounts, ngx_pool_t *p, ngx_array_t *ids,
    ngx_uint_t *release);
void ngx_http_q2api_accounts_db_lease_answer(
    ngx_http_q2api_accounts_t *accounts, ngx_str_t *id, ngx_uint_t granted,
    ngx_http_q2api_account_data_t *row);


/*
 * Small expiring records in the zone, seen by every worker (device login
 * sessions; ngx_http_q2api_accounts_kv.c).  set replaces; get copies into
 * p (NGX_DECLINED: none, or expired).
 */
ngx_int_t ngx_http_q2api_accounts_kv_set(ngx_http_q2api_accounts_t *accounts,
    ngx_str_t *key, ngx_str_t *value, time_t expires);
ngx_int_t ngx_http_q2api_accounts_kv_get(ngx_http_q2api_accounts_t *accounts,
    ngx_str_t *key, ngx_pool_t *p, ngx_str_t *value);


/*
 * The pool at a glance, for metrics and the admin API's status
 * (ngx_http_q2api_accounts_census.c): accounts by kind (type) and state (a
 * status, or NGX_HTTP_Q2API_CENSUS_DISABLED), the first cooldown's end (0:
 * none), changes waiting for the store, affinity bindings, the zone's
 * bytes.  One pass under the lock: for scrapes, not for requests.
 */
#define NGX_HTTP_Q2API_CENSUS_KINDS     8
#define NGX_HTTP_Q2API_CENSUS_STATES    10
#define NGX_HTTP_Q2API_CENSUS_DISABLED  (NGX_HTTP_Q2API_CENSUS_STATES - 1)

typedef struct {
    ngx_uint_t                 accounts;
    ngx_uint_t                 by[NGX_HTTP_Q2API_CENSUS_KINDS]
                                 [NGX_HTTP_Q2API_CENSUS_STATES];
    time_t                     next_back;
    ngx_uint_t                 dirty;
    ngx_uint_t                 affinity;
    size_t                     size;
    size_t                     free;
} ngx_http_q2api_census_t;

void ngx_http_q2api_accounts_census(ngx_http_q2api_accounts_t *accounts,
    ngx_http_q2api_census_t *c);


#endif /* _NGX_HTTP_Q2API_ACCOUNTS_H_INCLUDED_ */
