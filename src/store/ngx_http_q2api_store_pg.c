/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The PostgreSQL store: q2api's "accounts" table, shared by any number of
 * nginx hosts (and q2api itself).  The worker holding the store lease
 * runs one request-less libpq connection on nginx events:
 *
 *   connect -> schema (create, migrate, LISTEN) -> full load -> ready
 *
 * and, when ready, on every store tick: writes the dirty accounts (one
 * transaction; counters are added, not overwritten; each written row is
 * announced with NOTIFY q2api_accounts '<node>:<id>'), reads the rows other
 * hosts announced (at once, not at the tick), and reloads everything once
 * a minute.  Any failure closes the connection and reconnects with a
 * backoff of 1 s to 30 s; the zone keeps serving meanwhile and what was
 * counted stays in it until a write succeeds, exactly once.
 *
 * libpq never blocks here: host names are resolved at configuration time
 * into "hostaddr", the socket is an nginx connection, queries go out with
 * PQsendQueryParams in pipeline mode (a batch of statements per round
 * trip) and PQflush, and results are read with PQconsumeInput, PQisBusy
 * and PQgetResult.  PQfinish owns the socket, so the nginx connection is
 * freed without closing it.
 */


#include <sys/ioctl.h>

#include <libpq-fe.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "ngx_http_q2api.h"

#include <ngx_md5.h>


#ifndef LIBPQ_HAS_PIPELINING
#error "the q2api PostgreSQL store needs libpq 14 or newer (pipeline mode)"
#endif


#define NGX_HTTP_Q2API_PG_BACKOFF_MIN     1000
#define NGX_HTTP_Q2API_PG_BACKOFF_MAX     30000
#define NGX_HTTP_Q2API_PG_RESYNC          60000
#define NGX_HTTP_Q2API_PG_CONNECT_TIMEOUT 10000
#define NGX_HTTP_Q2API_PG_QUERY_TIMEOUT   30000
#define NGX_HTTP_Q2API_PG_FINAL_TIMEOUT   5000
#define NGX_HTTP_Q2API_PG_MAX_NOTIFIED    512
#define NGX_HTTP_Q2API_PG_MAX_ADDRS       8
#define NGX_HTTP_Q2API_PG_ERR_LEN         512
#define NGX_HTTP_Q2API_PG_LEASE_POLL      20     /* ms, refresh leases */

#define NGX_HTTP_Q2API_PG_CHANNEL         "q2api_accounts"


typedef enum {
    NGX_HTTP_Q2API_PG_DOWN = 0,
    NGX_HTTP_Q2API_PG_CONNECTING,
    NGX_HTTP_Q2API_PG_SETUP,          /* schema and first load */
    NGX_HTTP_Q2API_PG_READY
} ngx_http_q2api_pg_state_e;


typedef enum {
    NGX_HTTP_Q2API_PG_JOB_NONE = 0,
    NGX_HTTP_Q2API_PG_JOB_SCHEMA,
    NGX_HTTP_Q2API_PG_JOB_MIGRATE,
    NGX_HTTP_Q2API_PG_JOB_LOAD,
    NGX_HTTP_Q2API_PG_JOB_FETCH,
    NGX_HTTP_Q2API_PG_JOB_XID,        /* BEGIN; txid_current() */
    NGX_HTTP_Q2API_PG_JOB_WRITE,      /* the rows; COMMIT */
    NGX_HTTP_Q2API_PG_JOB_RESOLVE,    /* did an interrupted write commit? */
    NGX_HTTP_Q2API_PG_JOB_LEASE       /* refresh leases for the workers */
} ngx_http_q2api_pg_job_e;


/* what this worker last read from or wrote to a row, to write back only
 * what changed here (see ngx_http_q2api_pg_write) */
typedef struct {
    ngx_str_node_t                  sn;
    uint64_t                        config;
    uint64_t                        state;
    ngx_uint_t                      seen;     /* load generation */
} ngx_http_q2api_pg_row_t;


/* one account of a write batch */
typedef struct {
    uint64_t                        config;
    uint64_t                        state;
    unsigned                        write_config:1;
    unsigned                        write_state:1;
    unsigned                        gone:1;   /* row deleted elsewhere */
} ngx_http_q2api_pg_put_t;


/*
 * A write batch: the accounts take_dirty gave, their deltas moved out of
 * the zone.  Written once: if the connection fails after COMMIT was sent,
 * the batch waits, out of the zone, until txid_status() of its transaction
 * says whether it committed (then it is done) or not (then it goes back).
 */
typedef struct {
    ngx_pool_t                     *pool;
    ngx_array_t                    *taken;
    ngx_http_q2api_pg_put_t        *puts;
    ngx_uint_t                      nrelease; /* refresh leases */
    uint64_t                        xid;
} ngx_http_q2api_pg_batch_t;


typedef struct {
    ngx_http_q2api_store_t         *st;

    /* configuration */
    const char                    **keywords;
    const char                    **values;
    ngx_msec_t                      connect_timeout;

    /* the connection */
    PGconn                         *conn;
    ngx_connection_t               *c;
    ino_t                           ino;
    ngx_event_t                     timer;
    ngx_http_q2api_pg_state_e       state;
    ngx_msec_t                      backoff;
    ngx_msec_t                      next_try;

    /* the batch in flight */
    ngx_http_q2api_pg_job_e         job;
    ngx_pool_t                     *job_pool;
    ngx_uint_t                      nstmt;
    ngx_uint_t                      cur;
    ngx_array_t                    *ids;      /* fetch, lease */
    ngx_uint_t                     *granted;  /* lease */
    uint64_t                        missing;  /* schema: columns to add */
    ngx_http_q2api_pg_batch_t      *batch;    /* being written */
    ngx_http_q2api_pg_batch_t      *unsure;   /* its fate unknown */
    ngx_msec_t                      unsure_checked;
    unsigned                        sql_error:1;
    unsigned                        flushing:1;

    /* rows announced by other hosts, to read */
    ngx_pool_t                     *npool;
    ngx_array_t                    *notified;

    ngx_uint_t                      generation;
    ngx_uint_t                      skipped;  /* rows, last full load */
    ngx_msec_t                      last_load;
    ngx_rbtree_t                    rows;
    ngx_rbtree_node_t               sentinel;

    u_char                          node[17];
    u_char                          err[NGX_HTTP_Q2API_PG_ERR_LEN];

    unsigned                        inited:1;
    unsigned                        want_write:1;
    unsigned                        resync:1;
    unsigned                        closing:1;
    unsigned                        final:1;
    unsigned                        final_resolve:1;
    unsigned                        ready_once:1;
} ngx_http_q2api_pg_t;


static ngx_int_t ngx_http_q2api_pg_hostaddr(ngx_conf_t *cf,
    ngx_http_q2api_pg_t *pg, const char *host, const char *port,
    const char **keywords, const char **values, ngx_uint_t *n);
static const char *ngx_http_q2api_pg_strdup(ngx_pool_t *pool,
    const char *s);
static void ngx_http_q2api_pg_mask(u_char *dst, size_t size,
    const char *src);

static ngx_int_t ngx_http_q2api_pg_load(ngx_http_q2api_store_t *st,
    ngx_uint_t reload, ngx_log_t *log);
static void ngx_http_q2api_pg_tick(ngx_http_q2api_store_t *st);
static void ngx_http_q2api_pg_stop(ngx_http_q2api_store_t *st);

static ngx_int_t ngx_http_q2api_pg_connect(ngx_http_q2api_pg_t *pg);
static ngx_int_t ngx_http_q2api_pg_attach(ngx_http_q2api_pg_t *pg);
static void ngx_http_q2api_pg_detach(ngx_http_q2api_pg_t *pg);
static ngx_int_t ngx_http_q2api_pg_check_socket(ngx_http_q2api_pg_t *pg);
static ngx_int_t ngx_http_q2api_pg_poll(ngx_http_q2api_pg_t *pg);
static void ngx_http_q2api_pg_handler(ngx_event_t *ev);
static void ngx_http_q2api_pg_timer(ngx_event_t *ev);
static ngx_int_t ngx_http_q2api_pg_io(ngx_http_q2api_pg_t *pg);
static ngx_int_t ngx_http_q2api_pg_read(ngx_http_q2api_pg_t *pg);
static ngx_uint_t ngx_http_q2api_pg_pending(ngx_http_q2api_pg_t *pg);
static ngx_int_t ngx_http_q2api_pg_flush(ngx_http_q2api_pg_t *pg);
static ngx_int_t ngx_http_q2api_pg_results(ngx_http_q2api_pg_t *pg);
static void ngx_http_q2api_pg_notifies(ngx_http_q2api_pg_t *pg);
static ngx_int_t ngx_http_q2api_pg_next(ngx_http_q2api_pg_t *pg);
static void ngx_http_q2api_pg_fail(ngx_http_q2api_pg_t *pg);
static void ngx_http_q2api_pg_close(ngx_http_q2api_pg_t *pg,
    ngx_uint_t keep_unsure);
static void ngx_http_q2api_pg_batch_return(ngx_http_q2api_pg_t *pg,
    ngx_http_q2api_pg_batch_t **batch);
static void ngx_http_q2api_pg_notice(void *arg, const PGresult *res);

static ngx_int_t ngx_http_q2api_pg_begin(ngx_http_q2api_pg_t *pg,
    ngx_http_q2api_pg_job_e job, ngx_pool_t *pool);
static ngx_int_t ngx_http_q2api_pg_query(ngx_http_q2api_pg_t *pg,
    const char *sql, int n, const char *const *values);
static ngx_int_t ngx_http_q2api_pg_send(ngx_http_q2api_pg_t *pg,
    ngx_msec_t timeout);
static ngx_int_t ngx_http_q2api_pg_result(ngx_http_q2api_pg_t *pg,
    PGresult *res, ngx_uint_t i);
static ngx_int_t ngx_http_q2api_pg_done(ngx_http_q2api_pg_t *pg,
    ngx_http_q2api_pg_job_e job);

static ngx_int_t ngx_http_q2api_pg_schema(ngx_http_q2api_pg_t *pg);
static ngx_int_t ngx_http_q2api_pg_columns(ngx_http_q2api_pg_t *pg,
    PGresult *res);
static ngx_int_t ngx_http_q2api_pg_migrate(ngx_http_q2api_pg_t *pg);
static ngx_int_t ngx_http_q2api_pg_start_load(ngx_http_q2api_pg_t *pg);
static ngx_int_t ngx_http_q2api_pg_loaded(ngx_http_q2api_pg_t *pg,
    PGresult *res);
static ngx_int_t ngx_http_q2api_pg_fetch(ngx_http_q2api_pg_t *pg);
static ngx_int_t ngx_http_q2api_pg_lease(ngx_http_q2api_pg_t *pg);
static const char *ngx_http_q2api_pg_cstr(ngx_pool_t *pool, ngx_str_t *s,
    ngx_uint_t *failed);
static ngx_int_t ngx_http_q2api_pg_leased(ngx_http_q2api_pg_t *pg,
    PGresult *res, ngx_uint_t i);
static ngx_int_t ngx_http_q2api_pg_fetched(ngx_http_q2api_pg_t *pg,
    PGresult *res, ngx_str_t *id);
static ngx_int_t ngx_http_q2api_pg_write(ngx_http_q2api_pg_t *pg);
static ngx_int_t ngx_http_q2api_pg_write_rows(ngx_http_q2api_pg_t *pg);
static ngx_int_t ngx_http_q2api_pg_put(ngx_http_q2api_pg_t *pg,
    ngx_http_q2api_account_data_t *d, ngx_http_q2api_pg_put_t *put);
static void ngx_http_q2api_pg_written(ngx_http_q2api_pg_t *pg,
    ngx_http_q2api_pg_batch_t *batch);
static ngx_int_t ngx_http_q2api_pg_resolve_write(ngx_http_q2api_pg_t *pg);
static ngx_int_t ngx_http_q2api_pg_resolved(ngx_http_q2api_pg_t *pg,
    PGresult *res);

static ngx_int_t ngx_http_q2api_pg_account(PGresult *res, int i,
    ngx_http_q2api_account_data_t *d);
static void ngx_http_q2api_pg_value(PGresult *res, int i, int col,
    ngx_str_t *s);
static uint64_t ngx_http_q2api_pg_int(PGresult *res, int i, int col);
static ngx_http_q2api_pg_row_t *ngx_http_q2api_pg_row_get(
    ngx_http_q2api_pg_t *pg, ngx_str_t *id, ngx_uint_t create);
static void ngx_http_q2api_pg_row_delete(ngx_http_q2api_pg_t *pg,
    ngx_str_t *id);
static void ngx_http_q2api_pg_row_sweep(ngx_http_q2api_pg_t *pg);
static uint64_t ngx_http_q2api_pg_digest_config(
    ngx_http_q2api_account_data_t *d);
static uint64_t ngx_http_q2api_pg_digest_state(
    ngx_http_q2api_account_data_t *d);

static ngx_int_t ngx_http_q2api_pg_error(ngx_http_q2api_pg_t *pg,
    const char *what, const char *msg);
static ngx_int_t ngx_http_q2api_pg_result_error(ngx_http_q2api_pg_t *pg,
    PGresult *res);
static const char *ngx_http_q2api_pg_job_name(ngx_http_q2api_pg_job_e job);


ngx_http_q2api_store_ops_t  ngx_http_q2api_store_pg_ops = {
    "postgres",
    ngx_http_q2api_pg_load,
    ngx_http_q2api_pg_tick,
    ngx_http_q2api_pg_stop
};


/*
 * SQL.  Column names are q2api's as its db.py creates them: unquoted, so
 * PostgreSQL folds clientId to clientid, and q2api's own unquoted queries
 * find them.  Every value is a parameter; only constants are in the text.
 */

#define NGX_HTTP_Q2API_PG_LOCK                                               \
    "SELECT pg_advisory_xact_lock(hashtext('q2api_accounts_schema'))"

static const char  ngx_http_q2api_pg_create[] =
    "CREATE TABLE IF NOT EXISTS accounts ("
    "id TEXT PRIMARY KEY, label TEXT, clientId TEXT, clientSecret TEXT, "
    "refreshToken TEXT, accessToken TEXT, other TEXT, "
    "last_refresh_time TEXT, last_refresh_status TEXT, created_at TEXT, "
    "updated_at TEXT, enabled INTEGER DEFAULT 1, "
    "error_count INTEGER DEFAULT 0, success_count INTEGER DEFAULT 0, "
    "expires_at TEXT)";

/*
 * Who refreshes an account's token: the services rotate refresh tokens, so
 * two nodes refreshing one account at once would leave it dead.  A lease
 * runs out by itself, should its node die while refreshing.  Not q2api's:
 * q2api ignores it.
 */
static const char  ngx_http_q2api_pg_create_lease[] =
    "CREATE TABLE IF NOT EXISTS q2api_refresh_lease ("
    "account_id TEXT PRIMARY KEY, node TEXT NOT NULL, "
    "until TIMESTAMPTZ NOT NULL)";

/* granted when the row comes back: no lease, an expired one, or ours */
static const char  ngx_http_q2api_pg_lease_take[] =
    "INSERT INTO q2api_refresh_lease AS l (account_id, node, until) "
    "VALUES ($1::text, $2::text, now() + interval '30 seconds') "
    "ON CONFLICT (account_id) DO UPDATE "
    "SET node = excluded.node, until = excluded.until "
    "WHERE l.until < now() OR l.node = excluded.node "
    "RETURNING node";

static const char  ngx_http_q2api_pg_lease_release[] =
    "DELETE FROM q2api_refresh_lease "
    "WHERE account_id = $1::text AND node = $2::text";

/* the table as unqualified queries resolve it, whatever the search_path */
static const char  ngx_http_q2api_pg_attnames[] =
    "SELECT attname FROM pg_attribute "
    "WHERE attrelid = 'accounts'::regclass AND attnum > 0 "
    "AND NOT attisdropped";


typedef struct {
    const char                     *name;     /* as pg_attribute has it */
    const char                     *add;
} ngx_http_q2api_pg_column_t;


#define q2api_add(col, type)                                                 \
    "ALTER TABLE accounts ADD COLUMN IF NOT EXISTS " col " " type

/* q2api's columns (an older q2api table may lack some), then this
 * module's */
static ngx_http_q2api_pg_column_t  ngx_http_q2api_pg_added[] = {
    { "label", q2api_add("label", "TEXT") },
    { "clientid", q2api_add("clientId", "TEXT") },
    { "clientsecret", q2api_add("clientSecret", "TEXT") },
    { "refreshtoken", q2api_add("refreshToken", "TEXT") },
    { "accesstoken", q2api_add("accessToken", "TEXT") },
    { "other", q2api_add("other", "TEXT") },
    { "last_refresh_time", q2api_add("last_refresh_time", "TEXT") },
    { "last_refresh_status", q2api_add("last_refresh_status", "TEXT") },
    { "created_at", q2api_add("created_at", "TEXT") },
    { "updated_at", q2api_add("updated_at", "TEXT") },
    { "enabled", q2api_add("enabled", "INTEGER DEFAULT 1") },
    { "error_count", q2api_add("error_count", "INTEGER DEFAULT 0") },
    { "success_count", q2api_add("success_count", "INTEGER DEFAULT 0") },
    { "expires_at", q2api_add("expires_at", "TEXT") },

    { "type", q2api_add("type", "TEXT DEFAULT 'amazonq'") },
    { "profile_arn", q2api_add("profile_arn", "TEXT") },
    { "status", q2api_add("status", "TEXT DEFAULT 'active'") },
    { "status_reason", q2api_add("status_reason", "TEXT") },
    { "status_since", q2api_add("status_since", "BIGINT") },
    { "status_until", q2api_add("status_until", "BIGINT") },
    { "token_expires", q2api_add("token_expires", "BIGINT") },
    { "total_errors", q2api_add("total_errors", "BIGINT DEFAULT 0") },
    { "tokens_in", q2api_add("tokens_in", "BIGINT DEFAULT 0") },
    { "tokens_out", q2api_add("tokens_out", "BIGINT DEFAULT 0") },
    { "last_used", q2api_add("last_used", "BIGINT") },
    { "last_error", q2api_add("last_error", "TEXT") },
    { NULL, NULL }
};

#undef q2api_add


#define NGX_HTTP_Q2API_PG_SELECT                                             \
    "SELECT id, label, clientId, clientSecret, refreshToken, accessToken, "  \
    "other, created_at, updated_at, enabled, error_count, success_count, "   \
    "expires_at, type, profile_arn, status, status_reason, status_since, "   \
    "status_until, token_expires, total_errors, tokens_in, tokens_out, "     \
    "last_used, last_error FROM accounts"

enum {
    NGX_HTTP_Q2API_PG_ID = 0,
    NGX_HTTP_Q2API_PG_LABEL,
    NGX_HTTP_Q2API_PG_CLIENT_ID,
    NGX_HTTP_Q2API_PG_CLIENT_SECRET,
    NGX_HTTP_Q2API_PG_REFRESH_TOKEN,
    NGX_HTTP_Q2API_PG_ACCESS_TOKEN,
    NGX_HTTP_Q2API_PG_OTHER,
    NGX_HTTP_Q2API_PG_CREATED_AT,
    NGX_HTTP_Q2API_PG_UPDATED_AT,
    NGX_HTTP_Q2API_PG_ENABLED,
    NGX_HTTP_Q2API_PG_ERROR_COUNT,
    NGX_HTTP_Q2API_PG_SUCCESS_COUNT,
    NGX_HTTP_Q2API_PG_EXPIRES_AT,
    NGX_HTTP_Q2API_PG_TYPE,
    NGX_HTTP_Q2API_PG_PROFILE_ARN,
    NGX_HTTP_Q2API_PG_STATUS,
    NGX_HTTP_Q2API_PG_STATUS_REASON,
    NGX_HTTP_Q2API_PG_STATUS_SINCE,
    NGX_HTTP_Q2API_PG_STATUS_UNTIL,
    NGX_HTTP_Q2API_PG_TOKEN_EXPIRES,
    NGX_HTTP_Q2API_PG_TOTAL_ERRORS,
    NGX_HTTP_Q2API_PG_TOKENS_IN,
    NGX_HTTP_Q2API_PG_TOKENS_OUT,
    NGX_HTTP_Q2API_PG_LAST_USED,
    NGX_HTTP_Q2API_PG_LAST_ERROR,
    NGX_HTTP_Q2API_PG_NCOLUMNS
};

static const char  ngx_http_q2api_pg_select_all[] =
    NGX_HTTP_Q2API_PG_SELECT;

static const char  ngx_http_q2api_pg_select_one[] =
    NGX_HTTP_Q2API_PG_SELECT " WHERE id = $1::text";


/*
 * One dirty account.  Configuration ($26) and state ($27, $28) columns are
 * set only when they changed here, so that a token refreshed by q2api or a
 * status set by another host is not overwritten with this host's older
 * copy; counters always add this host's deltas; a row deleted elsewhere is
 * not brought back ($29: insert only accounts that are new here).
 */
static const char  ngx_http_q2api_pg_upsert[] =
    "WITH w AS ("
    "INSERT INTO accounts AS a (id, label, clientId, clientSecret, "
    "refreshToken, accessToken, other, created_at, updated_at, enabled, "
    "error_count, expires_at, type, profile_arn, status, status_reason, "
    "status_since, status_until, token_expires, success_count, "
    "total_errors, tokens_in, tokens_out, last_used, last_error) "
    "SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::text, "
    "$7::text, $8::text, $9::text, $10::integer, $11::integer, $12::text, "
    "$13::text, $14::text, $15::text, $16::text, $17::bigint, $18::bigint, "
    "$19::bigint, $20::integer, $21::bigint, $22::bigint, $23::bigint, "
    "$24::bigint, $25::text "
    "WHERE $29::boolean OR EXISTS (SELECT 1 FROM accounts WHERE id = $1) "
    "ON CONFLICT (id) DO UPDATE SET "
    "label = CASE WHEN $26 THEN excluded.label ELSE a.label END, "
    "clientId = CASE WHEN $26 THEN excluded.clientId ELSE a.clientId END, "
    "clientSecret = CASE WHEN $26 THEN excluded.clientSecret "
        "ELSE a.clientSecret END, "
    "refreshToken = CASE WHEN $26 THEN excluded.refreshToken "
        "ELSE a.refreshToken END, "
    "accessToken = CASE WHEN $26 THEN excluded.accessToken "
        "ELSE a.accessToken END, "
    "other = CASE WHEN $26 THEN excluded.other ELSE a.other END, "
    "enabled = CASE WHEN $26 THEN excluded.enabled ELSE a.enabled END, "
    "expires_at = CASE WHEN $26 THEN excluded.expires_at "
        "ELSE a.expires_at END, "
    "type = CASE WHEN $26 THEN excluded.type ELSE a.type END, "
    "profile_arn = CASE WHEN $26 THEN excluded.profile_arn "
        "ELSE a.profile_arn END, "
    "token_expires = CASE WHEN $26 THEN excluded.token_expires "
        "ELSE a.token_expires END, "
    "status = CASE WHEN $27::boolean THEN excluded.status "
        "ELSE a.status END, "
    "status_reason = CASE WHEN $27 THEN excluded.status_reason "
        "ELSE a.status_reason END, "
    "status_since = CASE WHEN $27 THEN excluded.status_since "
        "ELSE a.status_since END, "
    "status_until = CASE WHEN $27 THEN excluded.status_until "
        "ELSE a.status_until END, "
    "last_error = CASE WHEN $28::boolean THEN excluded.last_error "
        "ELSE a.last_error END, "
    "error_count = excluded.error_count, "
    "success_count = COALESCE(a.success_count, 0) + excluded.success_count, "
    "total_errors = COALESCE(a.total_errors, 0) + excluded.total_errors, "
    "tokens_in = COALESCE(a.tokens_in, 0) + excluded.tokens_in, "
    "tokens_out = COALESCE(a.tokens_out, 0) + excluded.tokens_out, "
    "last_used = GREATEST(a.last_used, excluded.last_used), "
    "updated_at = excluded.updated_at "
    "RETURNING id) "
    "SELECT id, pg_notify('" NGX_HTTP_Q2API_PG_CHANNEL "', "
    "$30::text || ':' || id) FROM w";

#define NGX_HTTP_Q2API_PG_UPSERT_PARAMS  30

static const char  ngx_http_q2api_pg_delete[] =
    "WITH w AS (DELETE FROM accounts WHERE id = $1::text RETURNING id) "
    "SELECT id, pg_notify('" NGX_HTTP_Q2API_PG_CHANNEL "', "
    "$2::text || ':' || id) FROM w";


/* configuration ----------------------------------------------------------- */


ngx_int_t
ngx_http_q2api_store_pg_conf(ngx_conf_t *cf, ngx_http_q2api_store_t *st)
{
    char                  *errmsg;
    u_char                 masked[NGX_HTTP_Q2API_PG_ERR_LEN];
    ngx_int_t              timeout;
    ngx_uint_t             n, nopts, named;
    const char            *host, *hostaddr, *port, *service, **keywords,
                          **values;
    PQconninfoOption      *opts, *o;
    ngx_http_q2api_pg_t   *pg;

    errmsg = NULL;

    opts = PQconninfoParse((const char *) st->target.data, &errmsg);

    if (opts == NULL) {
        /* libpq quotes the offending text, which may be a password */
        ngx_http_q2api_pg_mask(masked, sizeof(masked),
                               errmsg ? errmsg : "out of memory");

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "q2api_store postgres: invalid connection "
                           "string: %s", masked);

        if (errmsg) {
            PQfreemem(errmsg);
        }

        return NGX_ERROR;
    }

    pg = ngx_pcalloc(cf->pool, sizeof(ngx_http_q2api_pg_t));
    if (pg == NULL) {
        goto failed;
    }

    nopts = 0;

    for (o = opts; o->keyword; o++) {
        nopts++;
    }

    /* the options, a hostaddr, a fallback application name, the end */
    keywords = ngx_pcalloc(cf->pool, (nopts + 3) * sizeof(char *));
    values = ngx_pcalloc(cf->pool, (nopts + 3) * sizeof(char *));

    if (keywords == NULL || values == NULL) {
        goto failed;
    }

    host = NULL;
    hostaddr = NULL;
    port = NULL;
    service = NULL;
    named = 0;
    n = 0;
    pg->connect_timeout = NGX_HTTP_Q2API_PG_CONNECT_TIMEOUT;

    for (o = opts; o->keyword; o++) {

        if (o->val == NULL) {
            continue;
        }

        if (ngx_strcmp(o->keyword, "host") == 0) {
            host = o->val;

        } else if (ngx_strcmp(o->keyword, "hostaddr") == 0) {
            hostaddr = o->val;

        } else if (ngx_strcmp(o->keyword, "port") == 0) {
            port = o->val;

        } else if (ngx_strcmp(o->keyword, "service") == 0) {
            service = o->val;

        } else if (ngx_strcmp(o->keyword, "connect_timeout") == 0) {
            /* libpq applies it only to blocking connects: ours is a timer */
            timeout = ngx_atoi((u_char *) o->val, ngx_strlen(o->val));

            if (timeout == NGX_ERROR) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "q2api_store postgres: invalid "
                                   "connect_timeout \"%s\"", o->val);
                goto failed;
            }

            if (timeout > 0) {
                pg->connect_timeout = (ngx_msec_t) ngx_max(timeout, 2)
                                      * 1000;
            }
        }

        if (ngx_strcmp(o->keyword, "application_name") == 0
            || ngx_strcmp(o->keyword, "fallback_application_name") == 0)
        {
            named = 1;
        }

        keywords[n] = ngx_http_q2api_pg_strdup(cf->pool, o->keyword);
        values[n] = ngx_http_q2api_pg_strdup(cf->pool, o->val);

        if (keywords[n] == NULL || values[n] == NULL) {
            goto failed;
        }

        n++;
    }

    if (host && host[0] && hostaddr == NULL) {
        if (ngx_http_q2api_pg_hostaddr(cf, pg, host, port, keywords, values,
                                      &n)
            != NGX_OK)
        {
            goto failed;
        }

    } else if (service && host == NULL && hostaddr == NULL) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "q2api_store postgres: a host name that comes "
                           "from the service file is resolved by libpq in "
                           "the worker, which blocks it; give \"host\" or "
                           "\"hostaddr\" here");
    }

    if (!named) {
        /* pg_stat_activity tells these connections apart */
        keywords[n] = "fallback_application_name";
        values[n] = "nginx-q2api";
        n++;
    }

    keywords[n] = NULL;
    values[n] = NULL;

    PQconninfoFree(opts);

    pg->st = st;
    pg->keywords = keywords;
    pg->values = values;
    pg->backoff = NGX_HTTP_Q2API_PG_BACKOFF_MIN;

    ngx_rbtree_init(&pg->rows, &pg->sentinel, ngx_str_rbtree_insert_value);

    pg->timer.handler = ngx_http_q2api_pg_timer;
    pg->timer.data = pg;

    st->data = pg;

    return NGX_OK;

failed:

    PQconninfoFree(opts);

    return NGX_ERROR;
}


/*
 * Resolves the host names of "host" now, in the master, and passes the
 * addresses as "hostaddr", so that libpq never looks a name up in a
 * worker.  A name with several addresses becomes several entries, which
 * libpq tries in turn as it would have; "host" still names the server for
 * TLS verification and the password file.  Unix socket directories and
 * numeric addresses are kept as they are.
 */
static ngx_int_t
ngx_http_q2api_pg_hostaddr(ngx_conf_t *cf, ngx_http_q2api_pg_t *pg,
    const char *host, const char *port, const char **keywords,
    const char **values, ngx_uint_t *n)
{
    int               rc;
    char              addr[NGX_SOCKADDR_STRLEN];
    u_char           *p;
    size_t            len;
    ngx_str_t         h, pt, *hosts, *ports;
    ngx_uint_t        i, k, nhosts, nports, naddrs, resolved;
    ngx_array_t      *eh, *ea, *ep;
    struct addrinfo   hints, *res, *ai;
    u_char            buf[sizeof(struct in6_addr)];

    eh = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
    ea = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
    ep = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));

    if (eh == NULL || ea == NULL || ep == NULL) {
        return NGX_ERROR;
    }

    /* split the comma separated lists */

    nhosts = 1;

    for (p = (u_char *) host; *p; p++) {
        if (*p == ',') {
            nhosts++;
        }
    }

    nports = 0;

    if (port) {
        nports = 1;

        for (p = (u_char *) port; *p; p++) {
            if (*p == ',') {
                nports++;
            }
        }
    }

    if (nports > 1 && nports != nhosts) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "q2api_store postgres: %ui ports for %ui hosts",
                           nports, nhosts);
        return NGX_ERROR;
    }

    hosts = ngx_pcalloc(cf->pool, nhosts * sizeof(ngx_str_t));
    ports = ngx_pcalloc(cf->pool, nhosts * sizeof(ngx_str_t));

    if (hosts == NULL || ports == NULL) {
        return NGX_ERROR;
    }

    h.data = (u_char *) host;
    k = 0;

    for (p = (u_char *) host; ; p++) {
        if (*p == ',' || *p == '\0') {
            hosts[k].data = h.data;
            hosts[k++].len = p - h.data;
            h.data = p + 1;
        }

        if (*p == '\0') {
            break;
        }
    }

    if (port) {
        pt.data = (u_char *) port;
        k = 0;

        for (p = (u_char *) port; ; p++) {
            if (*p == ',' || *p == '\0') {
                ports[k].data = pt.data;
                ports[k++].len = p - pt.data;
                pt.data = p + 1;
            }

            if (*p == '\0') {
                break;
            }
        }
    }

    resolved = 0;

    for (i = 0; i < nhosts; i++) {
        h = hosts[i];
        pt = (nports > 1) ? ports[i] : (ngx_str_t) ngx_null_string;

        p = ngx_pnalloc(cf->pool, h.len + 1);
        if (p == NULL) {
            return NGX_ERROR;
        }

        *ngx_cpymem(p, h.data, h.len) = '\0';

        if (h.len == 0 || p[0] == '/' || p[0] == '@'
            || inet_pton(AF_INET, (char *) p, buf) == 1
            || inet_pton(AF_INET6, (char *) p, buf) == 1)
        {
            /* a socket directory or an address: libpq needs no lookup */
            if (ngx_array_push(eh) == NULL || ngx_array_push(ep) == NULL) {
                return NGX_ERROR;
            }

            ((ngx_str_t *) eh->elts)[eh->nelts - 1] = h;
            ((ngx_str_t *) ep->elts)[ep->nelts - 1] = pt;

            if (ngx_array_push(ea) == NULL) {
                return NGX_ERROR;
            }

            /* an address names itself; a socket directory has none */
            ((ngx_str_t *) ea->elts)[ea->nelts - 1] =
                (h.len && p[0] != '/' && p[0] != '@')
                ? h : (ngx_str_t) ngx_null_string;

            continue;
        }

        ngx_memzero(&hints, sizeof(struct addrinfo));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;

        rc = getaddrinfo((char *) p, NULL, &hints, &res);

        if (rc != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "q2api_store postgres: host \"%s\" not "
                               "found: getaddrinfo() failed (%s)",
                               p, gai_strerror(rc));
            return NGX_ERROR;
        }

        naddrs = 0;

        for (ai = res; ai && naddrs < NGX_HTTP_Q2API_PG_MAX_ADDRS;
             ai = ai->ai_next)
        {
            if (ai->ai_family == AF_INET) {
                if (inet_ntop(AF_INET,
                              &((struct sockaddr_in *) ai->ai_addr)->sin_addr,
                              addr, sizeof(addr))
                    == NULL)
                {
                    continue;
                }

            } else if (ai->ai_family == AF_INET6) {
                if (inet_ntop(AF_INET6,
                         &((struct sockaddr_in6 *) ai->ai_addr)->sin6_addr,
                         addr, sizeof(addr))
                    == NULL)
                {
                    continue;
                }

            } else {
                continue;
            }

            len = ngx_strlen(addr);

            /* getaddrinfo() repeats an address for each protocol */
            for (k = 0; k < ea->nelts; k++) {
                if (((ngx_str_t *) ea->elts)[k].len == len
                    && ngx_strncmp(((ngx_str_t *) ea->elts)[k].data, addr,
                                   len) == 0
                    && ((ngx_str_t *) eh->elts)[k].data == h.data)
                {
                    break;
                }
            }

            if (k < ea->nelts) {
                continue;
            }

            if (ngx_array_push(eh) == NULL || ngx_array_push(ep) == NULL
                || ngx_array_push(ea) == NULL)
            {
                freeaddrinfo(res);
                return NGX_ERROR;
            }

            ((ngx_str_t *) eh->elts)[eh->nelts - 1] = h;
            ((ngx_str_t *) ep->elts)[ep->nelts - 1] = pt;

            p = ngx_pnalloc(cf->pool, len);
            if (p == NULL) {
                freeaddrinfo(res);
                return NGX_ERROR;
            }

            ngx_memcpy(p, addr, len);
            ((ngx_str_t *) ea->elts)[ea->nelts - 1].data = p;
            ((ngx_str_t *) ea->elts)[ea->nelts - 1].len = len;

            naddrs++;
            resolved++;
        }

        freeaddrinfo(res);

        if (naddrs == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "q2api_store postgres: host \"%V\" has no "
                               "IPv4 or IPv6 address", &h);
            return NGX_ERROR;
        }
    }

    if (resolved == 0) {
        /* nothing to look up: the options stay as they were */
        return NGX_OK;
    }

    /* join the entries into host, hostaddr and, if per host, port */

    for (k = 0; k < *n; k++) {
        if (ngx_strcmp(keywords[k], "host") == 0
            || (nports > 1 && ngx_strcmp(keywords[k], "port") == 0))
        {
            keywords[k] = "q2api_removed";
        }
    }

    i = 0;

    for (k = 0; k < *n; k++) {
        if (ngx_strcmp(keywords[k], "q2api_removed") != 0) {
            keywords[i] = keywords[k];
            values[i++] = values[k];
        }
    }

    *n = i;

    {
        ngx_array_t  *lists[3] = { eh, ea, ep };
        const char   *names[3] = { "host", "hostaddr", "port" };

        for (k = 0; k < 3; k++) {

            if (k == 2 && nports <= 1) {
                break;
            }

            len = 0;

            for (i = 0; i < lists[k]->nelts; i++) {
                len += ((ngx_str_t *) lists[k]->elts)[i].len + 1;
            }

            p = ngx_pnalloc(cf->pool, len + 1);
            if (p == NULL) {
                return NGX_ERROR;
            }

            keywords[*n] = names[k];
            values[*n] = (const char *) p;
            (*n)++;

            for (i = 0; i < lists[k]->nelts; i++) {
                if (i) {
                    *p++ = ',';
                }

                p = ngx_cpymem(p, ((ngx_str_t *) lists[k]->elts)[i].data,
                               ((ngx_str_t *) lists[k]->elts)[i].len);
            }

            *p = '\0';
        }
    }

    return NGX_OK;
}


static const char *
ngx_http_q2api_pg_strdup(ngx_pool_t *pool, const char *s)
{
    u_char  *p;
    size_t   len;

    len = ngx_strlen(s) + 1;

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, s, len);

    return (const char *) p;
}


/*
 * libpq's message with every quoted fragment longer than one character
 * (the offending part of the string, which may hold a password) and
 * anything after an unmatched quote replaced by "..."
 */
static void
ngx_http_q2api_pg_mask(u_char *dst, size_t size, const char *src)
{
    u_char      *p, *last;
    size_t       n;
    const char  *q;

    p = dst;
    last = dst + size - 1;

    while (*src && p < last) {

        if (*src == '"') {
            q = ngx_strchr(src + 1, '"');

            if (q == NULL || q - src > 2) {
                p = ngx_cpymem(p, "\"...\"", ngx_min(5, (size_t) (last - p)));

                if (q == NULL) {
                    break;
                }

                src = q + 1;
                continue;
            }

            /* a one-character fragment, "=" or "]": kept, quotes and all */
            n = ngx_min((size_t) (q - src + 1), (size_t) (last - p));
            p = ngx_cpymem(p, src, n);
            src = q + 1;
            continue;
        }

        *p++ = (*src == '\n' || *src == '\r' || *src == '\t') ? ' ' : *src;
        src++;
    }

    while (p > dst && p[-1] == ' ') {
        p--;
    }

    *p = '\0';
}


/* the store operations ---------------------------------------------------- */


static ngx_int_t
ngx_http_q2api_pg_load(ngx_http_q2api_store_t *st, ngx_uint_t reload,
    ngx_log_t *log)
{
    /* the master never talks to the database: the lease worker fills the
     * zone, and until it has, requests are told there is no account */
    return NGX_OK;
}


static void
ngx_http_q2api_pg_tick(ngx_http_q2api_store_t *st)
{
    u_char                rnd[8];
    ngx_int_t             rc;
    ngx_uint_t            i;
    ngx_http_q2api_pg_t  *pg;

    pg = st->data;

    if (!pg->inited) {
        /* this process's name in notifications, to skip its own */
        if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
            for (i = 0; i < sizeof(rnd); i++) {
                rnd[i] = (u_char) ngx_random();
            }
        }

        ngx_hex_dump(pg->node, rnd, sizeof(rnd));
        pg->node[16] = '\0';

        pg->timer.log = st->log;
        pg->inited = 1;
    }

    if (pg->closing) {
        return;
    }

    pg->want_write = 1;

    switch (pg->state) {

    case NGX_HTTP_Q2API_PG_DOWN:

        if ((ngx_msec_int_t) (ngx_current_msec - pg->next_try) < 0) {
            return;
        }

        rc = ngx_http_q2api_pg_connect(pg);
        break;

    case NGX_HTTP_Q2API_PG_READY:

        if (pg->job != NGX_HTTP_Q2API_PG_JOB_NONE) {
            return;
        }

        rc = ngx_http_q2api_pg_next(pg);
        break;

    default:
        return;
    }

    if (rc == NGX_ERROR) {
        ngx_http_q2api_pg_fail(pg);
    }
}


/*
 * The lease is gone or the worker exits.  On a graceful exit the loop is
 * still running: what is dirty is written before the connection closes
 * (the connection's timer keeps the worker until then, at most
 * NGX_HTTP_Q2API_PG_FINAL_TIMEOUT).  Otherwise a batch in flight goes back
 * to the zone, where the next lease holder finds it.
 */
static void
ngx_http_q2api_pg_stop(ngx_http_q2api_store_t *st)
{
    ngx_http_q2api_pg_t  *pg;

    pg = st->data;

    if (pg->state == NGX_HTTP_Q2API_PG_READY && ngx_exiting
        && !ngx_terminate && !pg->closing)
    {
        pg->closing = 1;
        pg->want_write = 1;

        if (pg->job == NGX_HTTP_Q2API_PG_JOB_NONE) {
            if (ngx_http_q2api_pg_next(pg) == NGX_ERROR) {
                ngx_http_q2api_pg_fail(pg);
            }
        }

        return;
    }

    /* the next lease holder may be another worker: all back to the zone */
    ngx_http_q2api_pg_close(pg, 0);

    pg->backoff = NGX_HTTP_Q2API_PG_BACKOFF_MIN;
    pg->next_try = ngx_current_msec;
}


/* the connection ---------------------------------------------------------- */


static ngx_int_t
ngx_http_q2api_pg_connect(ngx_http_q2api_pg_t *pg)
{
    pg->conn = PQconnectStartParams(pg->keywords, pg->values, 0);

    if (pg->conn == NULL) {
        return ngx_http_q2api_pg_error(pg, "connect",
                                       "PQconnectStartParams() failed");
    }

    if (PQstatus(pg->conn) == CONNECTION_BAD) {
        return ngx_http_q2api_pg_error(pg, "connect",
                                       PQerrorMessage(pg->conn));
    }

    /* no DETAIL lines: they may quote row values, tokens among them */
    (void) PQsetErrorVerbosity(pg->conn, PQERRORS_TERSE);
    (void) PQsetNoticeReceiver(pg->conn, ngx_http_q2api_pg_notice, pg);

    if (PQsetnonblocking(pg->conn, 1) != 0) {
        return ngx_http_q2api_pg_error(pg, "connect",
                                       PQerrorMessage(pg->conn));
    }

    pg->state = NGX_HTTP_Q2API_PG_CONNECTING;

    if (ngx_http_q2api_pg_attach(pg) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_add_timer(&pg->timer, pg->connect_timeout);

    ngx_log_debug0(NGX_LOG_DEBUG_EVENT, pg->st->log, 0,
                   "q2api pg: connecting");

    /* as if PQconnectPoll() had said PGRES_POLLING_WRITING */
    pg->c->write->ready = 0;

    if (ngx_handle_write_event(pg->c->write, 0) != NGX_OK
        || ngx_handle_read_event(pg->c->read, 0) != NGX_OK)
    {
        return ngx_http_q2api_pg_error(pg, "connect",
                                       "ngx_handle_write_event() failed");
    }

    return NGX_OK;
}


/* libpq's socket as an nginx connection, the way ngx_event_connect_peer()
 * registers one */
static ngx_int_t
ngx_http_q2api_pg_attach(ngx_http_q2api_pg_t *pg)
{
    int                fd;
    ngx_connection_t  *c;
    ngx_file_info_t    fi;

    fd = PQsocket(pg->conn);

    if (fd == -1) {
        return ngx_http_q2api_pg_error(pg, "connect", "no socket");
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, pg->st->log, ngx_errno,
                      ngx_fd_info_n " of the postgres socket failed");
        return ngx_http_q2api_pg_error(pg, "connect", "fstat() failed");
    }

    c = ngx_get_connection(fd, pg->st->log);
    if (c == NULL) {
        return ngx_http_q2api_pg_error(pg, "connect",
                                       "ngx_get_connection() failed");
    }

    c->data = pg;
    c->read->handler = ngx_http_q2api_pg_handler;
    c->write->handler = ngx_http_q2api_pg_handler;
    c->read->log = c->log;
    c->write->log = c->log;

    pg->c = c;
    pg->ino = fi.st_ino;

    if (ngx_add_conn) {
        if (ngx_add_conn(c) == NGX_ERROR) {
            return ngx_http_q2api_pg_error(pg, "connect",
                                           "ngx_add_conn() failed");
        }
    }

    return NGX_OK;
}


/* ngx_close_connection() without the close(): the fd is libpq's */
static void
ngx_http_q2api_pg_detach(ngx_http_q2api_pg_t *pg)
{
    ngx_connection_t  *c;

    c = pg->c;

    if (c == NULL) {
        return;
    }

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    /* closing (or already closed) sockets leave epoll by themselves */
    if (ngx_del_conn) {
        ngx_del_conn(c, NGX_CLOSE_EVENT);

    } else {
        if (c->read->active || c->read->disabled) {
            ngx_del_event(c->read, NGX_READ_EVENT, NGX_CLOSE_EVENT);
        }

        if (c->write->active || c->write->disabled) {
            ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_CLOSE_EVENT);
        }
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    c->read->closed = 1;
    c->write->closed = 1;

    ngx_free_connection(c);

    c->fd = (ngx_socket_t) -1;
    pg->c = NULL;
}


/*
 * libpq may open another socket while it connects (the next host or
 * address, a retry without TLS) and close the old one, which takes it out
 * of epoll.  The new socket often gets the same number, so the inode
 * tells them apart.
 */
static ngx_int_t
ngx_http_q2api_pg_check_socket(ngx_http_q2api_pg_t *pg)
{
    int              fd;
    ngx_file_info_t  fi;

    fd = PQsocket(pg->conn);

    if (fd == pg->c->fd && fd != -1
        && ngx_fd_info(fd, &fi) != NGX_FILE_ERROR && fi.st_ino == pg->ino)
    {
        return NGX_OK;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, pg->st->log, 0,
                   "q2api pg: socket changed from %d to %d",
                   pg->c->fd, fd);

    ngx_http_q2api_pg_detach(pg);

    return ngx_http_q2api_pg_attach(pg);
}


static ngx_int_t
ngx_http_q2api_pg_poll(ngx_http_q2api_pg_t *pg)
{
    ngx_uint_t                 i;
    ngx_connection_t          *c;
    PostgresPollingStatusType  rc;

    for (i = 0; i < 16; i++) {

        rc = PQconnectPoll(pg->conn);

        if (rc == PGRES_POLLING_FAILED) {
            return ngx_http_q2api_pg_error(pg, "connect",
                                           PQerrorMessage(pg->conn));
        }

        if (ngx_http_q2api_pg_check_socket(pg) != NGX_OK) {
            return NGX_ERROR;
        }

        c = pg->c;

        if (rc == PGRES_POLLING_OK) {
            if (pg->timer.timer_set) {
                ngx_del_timer(&pg->timer);
            }

            ngx_log_debug0(NGX_LOG_DEBUG_EVENT, pg->st->log, 0,
                           "q2api pg: connected");

            pg->state = NGX_HTTP_Q2API_PG_SETUP;

            return ngx_http_q2api_pg_schema(pg);
        }

        if (rc == PGRES_POLLING_WRITING) {
            /*
             * Connected: libpq wants to send the startup packet, but the
             * edge that said so is gone (edge-triggered epoll), so go on
             * at once.
             */
            if (PQstatus(pg->conn) == CONNECTION_MADE) {
                continue;
            }

            c->write->ready = 0;

            if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
                return ngx_http_q2api_pg_error(pg, "connect",
                                           "ngx_handle_write_event() failed");
            }

            return NGX_OK;
        }

        /* PGRES_POLLING_READING */

        if (ngx_http_q2api_pg_pending(pg)) {
            continue;
        }

        c->read->ready = 0;

        if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
            return ngx_http_q2api_pg_error(pg, "connect",
                                           "ngx_handle_read_event() failed");
        }

        return NGX_OK;
    }

    /* let other connections run; go on from the posted queue */
    ngx_post_event(pg->c->write, &ngx_posted_events);

    return NGX_OK;
}


static void
ngx_http_q2api_pg_handler(ngx_event_t *ev)
{
    ngx_int_t             rc;
    ngx_connection_t     *c;
    ngx_http_q2api_pg_t  *pg;

    c = ev->data;
    pg = c->data;

    if (pg->state == NGX_HTTP_Q2API_PG_CONNECTING) {
        rc = ngx_http_q2api_pg_poll(pg);

    } else {
        rc = ngx_http_q2api_pg_io(pg);
    }

    if (rc == NGX_ERROR) {
        ngx_http_q2api_pg_fail(pg);
    }
}


static void
ngx_http_q2api_pg_timer(ngx_event_t *ev)
{
    ngx_http_q2api_pg_t  *pg;

    pg = ev->data;

    if (pg->state == NGX_HTTP_Q2API_PG_CONNECTING
        || pg->job != NGX_HTTP_Q2API_PG_JOB_NONE)
    {
        (void) ngx_http_q2api_pg_error(pg,
                   ngx_http_q2api_pg_job_name(pg->job), "timed out");
        ngx_http_q2api_pg_fail(pg);
        return;
    }

    /* idle: the periodic full load is due */
    if (pg->state == NGX_HTTP_Q2API_PG_READY
        && ngx_http_q2api_pg_next(pg) == NGX_ERROR)
    {
        ngx_http_q2api_pg_fail(pg);
    }
}


static ngx_int_t
ngx_http_q2api_pg_io(ngx_http_q2api_pg_t *pg)
{
    ngx_connection_t  *c;

    if (pg->flushing && ngx_http_q2api_pg_flush(pg) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_q2api_pg_read(pg) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_q2api_pg_results(pg) != NGX_OK) {
        return NGX_ERROR;
    }

    if (pg->conn == NULL) {
        /* the final write is done and the connection closed */
        return NGX_DONE;
    }

    ngx_http_q2api_pg_notifies(pg);

    c = pg->c;
    c->read->ready = 0;

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        return ngx_http_q2api_pg_error(pg, "read",
                                       "ngx_handle_read_event() failed");
    }

    if (!pg->flushing && ngx_handle_write_event(c->write, 0) != NGX_OK) {
        return ngx_http_q2api_pg_error(pg, "write",
                                       "ngx_handle_write_event() failed");
    }

    if (pg->state == NGX_HTTP_Q2API_PG_READY
        && pg->job == NGX_HTTP_Q2API_PG_JOB_NONE
        && (pg->notified || pg->resync))
    {
        return ngx_http_q2api_pg_next(pg);
    }

    return NGX_OK;
}


/*
 * Reads until the socket (and TLS) is empty: with edge-triggered events
 * nothing would say so again, and PQconsumeInput() may stop early.
 */
static ngx_int_t
ngx_http_q2api_pg_read(ngx_http_q2api_pg_t *pg)
{
    ngx_uint_t  i;

    for (i = 0; i < 32; i++) {

        if (!PQconsumeInput(pg->conn)) {
            return ngx_http_q2api_pg_error(pg, "read",
                                           PQerrorMessage(pg->conn));
        }

        if (ngx_http_q2api_pg_pending(pg)) {
            continue;
        }

        if (pg->c->read->pending_eof) {
            /* the peer closed: this read fails and says why */
            pg->c->read->pending_eof = 0;
            continue;
        }

        return NGX_OK;
    }

    ngx_post_event(pg->c->read, &ngx_posted_events);

    return NGX_OK;
}


static ngx_uint_t
ngx_http_q2api_pg_pending(ngx_http_q2api_pg_t *pg)
{
    int   n;
    SSL  *ssl;

    if (ioctl(PQsocket(pg->conn), FIONREAD, &n) == 0 && n > 0) {
        return 1;
    }

    if (PQsslInUse(pg->conn)) {
        ssl = PQsslStruct(pg->conn, "OpenSSL");

        if (ssl && SSL_pending(ssl) > 0) {
            return 1;
        }
    }

    return 0;
}


static ngx_int_t
ngx_http_q2api_pg_flush(ngx_http_q2api_pg_t *pg)
{
    int  rc;

    rc = PQflush(pg->conn);

    if (rc == -1) {
        return ngx_http_q2api_pg_error(pg, "write", PQerrorMessage(pg->conn));
    }

    if (rc == 1) {
        /* libpq met EAGAIN (reading what came meanwhile): wait */
        pg->flushing = 1;
        pg->c->write->ready = 0;

        if (ngx_handle_write_event(pg->c->write, 0) != NGX_OK) {
            return ngx_http_q2api_pg_error(pg, "write",
                                           "ngx_handle_write_event() failed");
        }

        return NGX_OK;
    }

    pg->flushing = 0;

    return NGX_OK;
}


/*
 * The results of a pipeline: for each statement its result and a NULL,
 * then PGRES_PIPELINE_SYNC.  The first error ends the connection (an
 * explicit transaction that failed stays aborted until it is closed).
 */
static ngx_int_t
ngx_http_q2api_pg_results(ngx_http_q2api_pg_t *pg)
{
    ngx_int_t                 rc;
    PGresult                 *res;
    ExecStatusType            status;
    ngx_http_q2api_pg_job_e   job;

    while (pg->job != NGX_HTTP_Q2API_PG_JOB_NONE && !PQisBusy(pg->conn)) {

        res = PQgetResult(pg->conn);

        if (res == NULL) {
            if (++pg->cur > pg->nstmt) {
                return ngx_http_q2api_pg_error(pg,
                           ngx_http_q2api_pg_job_name(pg->job),
                           "more results than statements");
            }

            continue;
        }

        status = PQresultStatus(res);

        switch (status) {

        case PGRES_PIPELINE_SYNC:
            PQclear(res);

            if (!PQexitPipelineMode(pg->conn)) {
                return ngx_http_q2api_pg_error(pg,
                           ngx_http_q2api_pg_job_name(pg->job),
                           PQerrorMessage(pg->conn));
            }

            if (pg->timer.timer_set) {
                ngx_del_timer(&pg->timer);
            }

            job = pg->job;
            pg->job = NGX_HTTP_Q2API_PG_JOB_NONE;

            rc = ngx_http_q2api_pg_done(pg, job);

            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }

            if (rc == NGX_DONE) {
                /* closed after the last write */
                return NGX_OK;
            }

            continue;

        case PGRES_COMMAND_OK:
        case PGRES_TUPLES_OK:
            rc = ngx_http_q2api_pg_result(pg, res, pg->cur);
            PQclear(res);

            if (rc != NGX_OK) {
                return NGX_ERROR;
            }

            continue;

        default:
            rc = ngx_http_q2api_pg_result_error(pg, res);
            PQclear(res);
            return rc;
        }
    }

    return NGX_OK;
}


/*
 * Notifications: "<node>:<id>" from a host that changed a row (our own are
 * skipped), "<id>" from anyone else, "" to reload everything.
 */
static void
ngx_http_q2api_pg_notifies(ngx_http_q2api_pg_t *pg)
{
    u_char     *colon;
    size_t      len;
    PGnotify   *n;
    ngx_str_t   id, *p;

    while ((n = PQnotifies(pg->conn)) != NULL) {

        len = ngx_strlen(n->extra);
        id.data = (u_char *) n->extra;
        id.len = len;

        colon = (u_char *) ngx_strlchr(id.data, id.data + len, ':');

        if (colon) {
            if ((size_t) (colon - id.data) == 16
                && ngx_strncmp(id.data, pg->node, 16) == 0)
            {
                PQfreemem(n);
                continue;
            }

            id.len = id.data + len - (colon + 1);
            id.data = colon + 1;
        }

        ngx_log_debug1(NGX_LOG_DEBUG_EVENT, pg->st->log, 0,
                       "q2api pg: notified \"%V\"", &id);

        if (id.len == 0) {
            pg->resync = 1;
            PQfreemem(n);
            continue;
        }

        if (pg->notified && pg->notified->nelts
                            >= NGX_HTTP_Q2API_PG_MAX_NOTIFIED)
        {
            /* that many: a full load is cheaper */
            pg->resync = 1;
            ngx_destroy_pool(pg->npool);
            pg->npool = NULL;
            pg->notified = NULL;
        }

        if (pg->resync) {
            PQfreemem(n);
            continue;
        }

        if (pg->npool == NULL) {
            pg->npool = ngx_create_pool(4096, pg->st->log);
            if (pg->npool == NULL) {
                pg->resync = 1;
                PQfreemem(n);
                continue;
            }

            pg->notified = ngx_array_create(pg->npool, 16,
                                            sizeof(ngx_str_t));
            if (pg->notified == NULL) {
                ngx_destroy_pool(pg->npool);
                pg->npool = NULL;
                pg->resync = 1;
                PQfreemem(n);
                continue;
            }
        }

        p = ngx_array_push(pg->notified);

        if (p == NULL || (p->data = ngx_pstrdup(pg->npool, &id)) == NULL) {
            pg->resync = 1;

        } else {
            p->len = id.len;
        }

        PQfreemem(n);
    }
}


/* connected and idle: what to do next */
static ngx_int_t
ngx_http_q2api_pg_next(ngx_http_q2api_pg_t *pg)
{
    ngx_int_t   rc;
    ngx_msec_t  age;

    if (pg->closing) {
        if (pg->unsure && !pg->final_resolve) {
            pg->final_resolve = 1;
            return ngx_http_q2api_pg_resolve_write(pg);
        }

        if (!pg->final) {
            pg->final = 1;

            rc = ngx_http_q2api_pg_write(pg);

            if (rc != NGX_DECLINED) {
                return rc;
            }
        }

        ngx_log_debug0(NGX_LOG_DEBUG_EVENT, pg->st->log, 0,
                       "q2api pg: closed after the last write");

        ngx_http_q2api_pg_close(pg, 0);

        return NGX_DONE;
    }

    if (pg->resync) {
        return ngx_http_q2api_pg_start_load(pg);
    }

    if (pg->notified) {
        return ngx_http_q2api_pg_fetch(pg);
    }

    if (ngx_http_q2api_accounts_db_lease_work(pg->st->accounts)) {
        rc = ngx_http_q2api_pg_lease(pg);

        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    if (pg->unsure) {
        /* no write until the interrupted one is known: the deltas wait in
         * the zone */
        if (ngx_current_msec - pg->unsure_checked >= 1000) {
            return ngx_http_q2api_pg_resolve_write(pg);
        }

    } else if (pg->want_write) {
        pg->want_write = 0;

        rc = ngx_http_q2api_pg_write(pg);

        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    age = ngx_current_msec - pg->last_load;

    if (age >= NGX_HTTP_Q2API_PG_RESYNC) {
        return ngx_http_q2api_pg_start_load(pg);
    }

    /*
     * Idle until the next full load.  This timer is not cancelable, so a
     * worker that shuts down gracefully waits for the store loop to call
     * stop and the last write to be done.
     */
    if (pg->timer.timer_set) {
        ngx_del_timer(&pg->timer);
    }

    /* the workers cannot wake this one: it looks for refresh leases they
     * want often, which costs a read of the zone */
    ngx_add_timer(&pg->timer, ngx_min(NGX_HTTP_Q2API_PG_RESYNC - age,
                                      NGX_HTTP_Q2API_PG_LEASE_POLL));

    return NGX_OK;
}


static void
ngx_http_q2api_pg_fail(ngx_http_q2api_pg_t *pg)
{
    ngx_http_q2api_store_t  *st;

    st = pg->st;

    if (pg->closing) {
        ngx_log_error(NGX_LOG_WARN, st->log, 0,
                      "q2api: postgres store: last write failed: %s",
                      pg->err);

    } else if (!st->failing) {
        ngx_log_error(NGX_LOG_ERR, st->log, 0,
                      "q2api: postgres store unavailable: %s", pg->err);
        st->failing = 1;

    } else {
        ngx_log_debug1(NGX_LOG_DEBUG_EVENT, st->log, 0,
                       "q2api pg: still unavailable: %s", pg->err);
    }

    ngx_http_q2api_pg_close(pg, !pg->closing);

    pg->next_try = ngx_current_msec + pg->backoff;
    pg->backoff = ngx_min(pg->backoff * 2, NGX_HTTP_Q2API_PG_BACKOFF_MAX);
}


/*
 * keep_unsure: a batch whose COMMIT may have gone through stays out of the
 * zone until the next connection asks the database; without it (the lease
 * is gone, the worker exits) it goes back, counted twice rather than lost.
 */
static void
ngx_http_q2api_pg_close(ngx_http_q2api_pg_t *pg, ngx_uint_t keep_unsure)
{
    if (pg->batch) {
        if (keep_unsure && pg->job == NGX_HTTP_Q2API_PG_JOB_WRITE
            && !pg->sql_error && pg->unsure == NULL)
        {
            ngx_log_debug1(NGX_LOG_DEBUG_EVENT, pg->st->log, 0,
                           "q2api pg: write of transaction %uL unsure",
                           pg->batch->xid);

            pg->unsure = pg->batch;
            pg->unsure_checked = ngx_current_msec - 1000;
            pg->batch = NULL;

        } else {
            /* rolled back, or COMMIT never sent */
            ngx_http_q2api_pg_batch_return(pg, &pg->batch);
        }
    }

    if (pg->unsure
        && (!keep_unsure
            || (pg->job == NGX_HTTP_Q2API_PG_JOB_RESOLVE && pg->sql_error)))
    {
        /* the database cannot tell (txid_status() failed): give up */
        ngx_http_q2api_pg_batch_return(pg, &pg->unsure);
    }

    if (pg->job_pool) {
        ngx_destroy_pool(pg->job_pool);
        pg->job_pool = NULL;
    }

    if (pg->npool) {
        ngx_destroy_pool(pg->npool);
        pg->npool = NULL;
    }

    pg->notified = NULL;
    pg->ids = NULL;
    pg->granted = NULL;
    pg->job = NGX_HTTP_Q2API_PG_JOB_NONE;
    pg->sql_error = 0;
    pg->flushing = 0;
    pg->resync = 0;

    if (pg->state == NGX_HTTP_Q2API_PG_READY) {
        ngx_http_q2api_accounts_db_lease_up(pg->st->accounts, 0);
    }

    ngx_http_q2api_pg_detach(pg);

    if (pg->conn) {
        PQfinish(pg->conn);
        pg->conn = NULL;
    }

    if (pg->timer.timer_set) {
        ngx_del_timer(&pg->timer);
    }

    pg->state = NGX_HTTP_Q2API_PG_DOWN;
}


/* the deltas go back to the zone, the accounts are dirty again */
static void
ngx_http_q2api_pg_batch_return(ngx_http_q2api_pg_t *pg,
    ngx_http_q2api_pg_batch_t **batch)
{
    ngx_http_q2api_accounts_return_dirty(pg->st->accounts, (*batch)->taken);
    ngx_destroy_pool((*batch)->pool);
    *batch = NULL;
}


static void
ngx_http_q2api_pg_notice(void *arg, const PGresult *res)
{
    ngx_http_q2api_pg_t *pg = arg;

    const char  *msg;

    /* "relation accounts already exists, skipping" and the like */
    msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, pg->st->log, 0,
                   "q2api pg: %s", msg ? msg : "notice");
}


/* pipelines --------------------------------------------------------------- */


static ngx_int_t
ngx_http_q2api_pg_begin(ngx_http_q2api_pg_t *pg,
    ngx_http_q2api_pg_job_e job, ngx_pool_t *pool)
{
    if (pool == NULL) {
        pool = ngx_create_pool(4096, pg->st->log);
        if (pool == NULL) {
            return ngx_http_q2api_pg_error(pg, ngx_http_q2api_pg_job_name(job),
                                           "out of memory");
        }
    }

    pg->job = job;
    pg->job_pool = pool;
    pg->nstmt = 0;
    pg->cur = 0;
    pg->sql_error = 0;

    if (!PQenterPipelineMode(pg->conn)) {
        return ngx_http_q2api_pg_error(pg, ngx_http_q2api_pg_job_name(job),
                                       PQerrorMessage(pg->conn));
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_q2api_pg_query(ngx_http_q2api_pg_t *pg, const char *sql, int n,
    const char *const *values)
{
    if (!PQsendQueryParams(pg->conn, sql, n, NULL, values, NULL, NULL, 0)) {
        return ngx_http_q2api_pg_error(pg,
                                       ngx_http_q2api_pg_job_name(pg->job),
                                       PQerrorMessage(pg->conn));
    }

    pg->nstmt++;

    return NGX_OK;
}


static ngx_int_t
ngx_http_q2api_pg_send(ngx_http_q2api_pg_t *pg, ngx_msec_t timeout)
{
    if (!PQpipelineSync(pg->conn)) {
        return ngx_http_q2api_pg_error(pg,
                                       ngx_http_q2api_pg_job_name(pg->job),
                                       PQerrorMessage(pg->conn));
    }

    if (pg->timer.timer_set) {
        ngx_del_timer(&pg->timer);
    }

    ngx_add_timer(&pg->timer, timeout);

    return ngx_http_q2api_pg_flush(pg);
}


static ngx_int_t
ngx_http_q2api_pg_result(ngx_http_q2api_pg_t *pg, PGresult *res,
    ngx_uint_t i)
{
    switch (pg->job) {

    case NGX_HTTP_Q2API_PG_JOB_SCHEMA:
        /* BEGIN, lock, CREATE, CREATE lease, columns, LISTEN, COMMIT */
        return (i == 4) ? ngx_http_q2api_pg_columns(pg, res) : NGX_OK;

    case NGX_HTTP_Q2API_PG_JOB_LOAD:
        return ngx_http_q2api_pg_loaded(pg, res);

    case NGX_HTTP_Q2API_PG_JOB_FETCH:
        return ngx_http_q2api_pg_fetched(pg, res,
                                         (ngx_str_t *) pg->ids->elts + i);

    case NGX_HTTP_Q2API_PG_JOB_XID:
        /* BEGIN, txid_current() */
        if (i == 1) {
            if (PQntuples(res) != 1) {
                return ngx_http_q2api_pg_error(pg, "write",
                                               "no transaction id");
            }

            pg->batch->xid = ngx_http_q2api_pg_int(res, 0, 0);
        }

        return NGX_OK;

    case NGX_HTTP_Q2API_PG_JOB_WRITE:
        /* one statement per account, COMMIT */
        if (i < pg->batch->taken->nelts) {
            pg->batch->puts[i].gone = (PQntuples(res) == 0);
            return NGX_OK;
        }

        if (i < pg->batch->taken->nelts + pg->batch->nrelease) {
            /* a refresh lease released */
            return NGX_OK;
        }

        /* COMMIT is through */
        ngx_http_q2api_pg_written(pg, pg->batch);
        ngx_destroy_pool(pg->batch->pool);
        pg->batch = NULL;
        return NGX_OK;

    case NGX_HTTP_Q2API_PG_JOB_RESOLVE:
        return ngx_http_q2api_pg_resolved(pg, res);

    case NGX_HTTP_Q2API_PG_JOB_LEASE:
        return ngx_http_q2api_pg_leased(pg, res, i);

    default:
        return NGX_OK;
    }
}


static ngx_int_t
ngx_http_q2api_pg_done(ngx_http_q2api_pg_t *pg, ngx_http_q2api_pg_job_e job)
{
    ngx_http_q2api_store_t  *st;

    if (pg->job_pool) {
        ngx_destroy_pool(pg->job_pool);
        pg->job_pool = NULL;
    }

    pg->ids = NULL;
    pg->granted = NULL;

    switch (job) {

    case NGX_HTTP_Q2API_PG_JOB_SCHEMA:
        if (pg->missing) {
            return ngx_http_q2api_pg_migrate(pg);
        }

        /* fall through */

    case NGX_HTTP_Q2API_PG_JOB_MIGRATE:
        if (pg->unsure) {
            /* before the load, so that it sees what the write did */
            return ngx_http_q2api_pg_resolve_write(pg);
        }

        return ngx_http_q2api_pg_start_load(pg);

    case NGX_HTTP_Q2API_PG_JOB_RESOLVE:
        if (pg->state == NGX_HTTP_Q2API_PG_SETUP) {
            return ngx_http_q2api_pg_start_load(pg);
        }

        break;

    case NGX_HTTP_Q2API_PG_JOB_XID:
        /* the transaction is open and its id known: now the rows */
        return ngx_http_q2api_pg_write_rows(pg);

    case NGX_HTTP_Q2API_PG_JOB_LOAD:

        if (pg->state == NGX_HTTP_Q2API_PG_SETUP) {
            st = pg->st;
            pg->state = NGX_HTTP_Q2API_PG_READY;
            pg->backoff = NGX_HTTP_Q2API_PG_BACKOFF_MIN;

            if (st->failing) {
                ngx_log_error(NGX_LOG_NOTICE, st->log, 0,
                              "q2api: postgres store is back, %ui accounts",
                              ngx_http_q2api_accounts_size(st->accounts));
                st->failing = 0;

            } else if (!pg->ready_once) {
                ngx_log_error(NGX_LOG_INFO, st->log, 0,
                              "q2api: postgres store ready, %ui accounts",
                              ngx_http_q2api_accounts_size(st->accounts));
            }

            pg->ready_once = 1;

            ngx_http_q2api_accounts_db_lease_up(st->accounts, 1);
        }

        break;

    default:
        break;
    }

    return ngx_http_q2api_pg_next(pg);
}


/* schema ------------------------------------------------------------------ */


/*
 * The table as q2api creates it, then LISTEN; the columns it has decide
 * the migration.  The advisory lock keeps hosts that start together from
 * racing on CREATE TABLE.
 */
static ngx_int_t
ngx_http_q2api_pg_schema(ngx_http_q2api_pg_t *pg)
{
    if (ngx_http_q2api_pg_begin(pg, NGX_HTTP_Q2API_PG_JOB_SCHEMA, NULL)
        != NGX_OK
        || ngx_http_q2api_pg_query(pg, "BEGIN", 0, NULL) != NGX_OK
        || ngx_http_q2api_pg_query(pg, NGX_HTTP_Q2API_PG_LOCK, 0, NULL)
           != NGX_OK
        || ngx_http_q2api_pg_query(pg, ngx_http_q2api_pg_create, 0, NULL)
           != NGX_OK
        || ngx_http_q2api_pg_query(pg, ngx_http_q2api_pg_create_lease, 0,
                                   NULL)
           != NGX_OK
        || ngx_http_q2api_pg_query(pg, ngx_http_q2api_pg_attnames, 0, NULL)
           != NGX_OK
        || ngx_http_q2api_pg_query(pg, "LISTEN " NGX_HTTP_Q2API_PG_CHANNEL,
                                   0, NULL)
           != NGX_OK
        || ngx_http_q2api_pg_query(pg, "COMMIT", 0, NULL) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_q2api_pg_send(pg, NGX_HTTP_Q2API_PG_QUERY_TIMEOUT);
}


static ngx_int_t
ngx_http_q2api_pg_columns(ngx_http_q2api_pg_t *pg, PGresult *res)
{
    int          i, n;
    char        *name;
    ngx_uint_t   k;

    pg->missing = 0;

    n = PQntuples(res);

    for (k = 0; ngx_http_q2api_pg_added[k].name; k++) {

        for (i = 0; i < n; i++) {
            name = PQgetvalue(res, i, 0);

            if (ngx_strcmp(name, ngx_http_q2api_pg_added[k].name) == 0) {
                break;
            }
        }

        if (i == n) {
            pg->missing |= (uint64_t) 1 << k;
        }
    }

    return NGX_OK;
}


/* only what is missing: ADD COLUMN locks the table even when it exists */
static ngx_int_t
ngx_http_q2api_pg_migrate(ngx_http_q2api_pg_t *pg)
{
    u_char      *p, *last, names[NGX_HTTP_Q2API_PG_ERR_LEN];
    ngx_uint_t   k;

    if (ngx_http_q2api_pg_begin(pg, NGX_HTTP_Q2API_PG_JOB_MIGRATE, NULL)
        != NGX_OK
        || ngx_http_q2api_pg_query(pg, "BEGIN", 0, NULL) != NGX_OK
        || ngx_http_q2api_pg_query(pg, "SET LOCAL lock_timeout = '10s'", 0,
                                   NULL)
           != NGX_OK
        || ngx_http_q2api_pg_query(pg, NGX_HTTP_Q2API_PG_LOCK, 0, NULL)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    p = names;
    last = names + sizeof(names) - 1;

    for (k = 0; ngx_http_q2api_pg_added[k].name; k++) {

        if (!(pg->missing & ((uint64_t) 1 << k))) {
            continue;
        }

        p = ngx_snprintf(p, last - p, "%s%s", (p == names) ? "" : ", ",
                         ngx_http_q2api_pg_added[k].name);

        if (ngx_http_q2api_pg_query(pg, ngx_http_q2api_pg_added[k].add, 0,
                                    NULL)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    *p = '\0';

    if (ngx_http_q2api_pg_query(pg, "COMMIT", 0, NULL) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_log_error(NGX_LOG_NOTICE, pg->st->log, 0,
                  "q2api: postgres store: adding to the accounts table: %s",
                  names);

    pg->missing = 0;

    return ngx_http_q2api_pg_send(pg, NGX_HTTP_Q2API_PG_QUERY_TIMEOUT);
}


/* reads ------------------------------------------------------------------- */


static ngx_int_t
ngx_http_q2api_pg_start_load(ngx_http_q2api_pg_t *pg)
{
    /* the load supersedes what was announced before it */
    if (pg->npool) {
        ngx_destroy_pool(pg->npool);
        pg->npool = NULL;
        pg->notified = NULL;
    }

    pg->resync = 0;

    if (ngx_http_q2api_pg_begin(pg, NGX_HTTP_Q2API_PG_JOB_LOAD, NULL)
        != NGX_OK
        || ngx_http_q2api_pg_query(pg, ngx_http_q2api_pg_select_all, 0, NULL)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_q2api_pg_send(pg, NGX_HTTP_Q2API_PG_QUERY_TIMEOUT);
}


static ngx_int_t
ngx_http_q2api_pg_loaded(ngx_http_q2api_pg_t *pg, PGresult *res)
{
    int                             i, n;
    ngx_int_t                       rc;
    ngx_uint_t                      skipped, full;
    ngx_http_q2api_pg_row_t        *row;
    ngx_http_q2api_store_t         *st;
    ngx_http_q2api_account_data_t   d;

    if (PQnfields(res) != NGX_HTTP_Q2API_PG_NCOLUMNS) {
        return ngx_http_q2api_pg_error(pg, "load", "unexpected columns");
    }

    st = pg->st;
    pg->generation = ngx_http_q2api_accounts_next_generation(st->accounts);
    pg->last_load = ngx_current_msec;

    n = PQntuples(res);
    skipped = 0;
    full = 0;

    for (i = 0; i < n; i++) {

        if (ngx_http_q2api_pg_account(res, i, &d) != NGX_OK) {
            skipped++;
            continue;
        }

        rc = ngx_http_q2api_accounts_upsert(st->accounts, &d, NGX_HTTP_Q2API_SET_ALL,
                                        pg->generation);
        if (rc != NGX_OK) {
            full++;
            continue;
        }

        row = ngx_http_q2api_pg_row_get(pg, &d.id, 1);
        if (row == NULL) {
            return ngx_http_q2api_pg_error(pg, "load", "out of memory");
        }

        row->config = ngx_http_q2api_pg_digest_config(&d);
        row->state = ngx_http_q2api_pg_digest_state(&d);
        row->seen = pg->generation;
    }

    if (full) {
        /* keep what is there rather than drop what did not fit */
        ngx_log_error(NGX_LOG_ERR, st->log, 0,
                      "q2api: postgres store: %ui of %d accounts did not "
                      "fit in the shared zone; make q2api_zone larger",
                      full, n);

    } else {
        ngx_http_q2api_accounts_prune(st->accounts, pg->generation);
        ngx_http_q2api_pg_row_sweep(pg);
    }

    if (skipped != pg->skipped) {
        /* said once, not at every full load */
        ngx_log_error(NGX_LOG_WARN, st->log, 0,
                      "q2api: postgres store: %ui rows skipped: no id, or "
                      "a type other than \"amazonq\" or \"kiro\"", skipped);
        pg->skipped = skipped;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, st->log, 0,
                   "q2api pg: loaded %d rows", n);

    return NGX_OK;
}


static ngx_int_t
ngx_http_q2api_pg_fetch(ngx_http_q2api_pg_t *pg)
{
    ngx_str_t   *ids;
    ngx_uint_t   i;
    ngx_pool_t  *pool;
    const char  *values[1];

    /* the job owns them now */
    pool = pg->npool;
    pg->ids = pg->notified;
    pg->npool = NULL;
    pg->notified = NULL;

    if (ngx_http_q2api_pg_begin(pg, NGX_HTTP_Q2API_PG_JOB_FETCH, pool)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ids = pg->ids->elts;

    for (i = 0; i < pg->ids->nelts; i++) {

        values[0] = (const char *) ngx_pnalloc(pg->job_pool, ids[i].len + 1);
        if (values[0] == NULL) {
            return ngx_http_q2api_pg_error(pg, "read", "out of memory");
        }

        *ngx_cpymem((u_char *) values[0], ids[i].data, ids[i].len) = '\0';

        if (ngx_http_q2api_pg_query(pg, ngx_http_q2api_pg_select_one, 1,
                                    values)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return ngx_http_q2api_pg_send(pg, NGX_HTTP_Q2API_PG_QUERY_TIMEOUT);
}


static ngx_int_t
ngx_http_q2api_pg_fetched(ngx_http_q2api_pg_t *pg, PGresult *res,
    ngx_str_t *id)
{
    ngx_http_q2api_pg_row_t        *row;
    ngx_http_q2api_store_t         *st;
    ngx_http_q2api_account_data_t   d;

    st = pg->st;

    if (PQntuples(res) == 0
        || ngx_http_q2api_pg_account(res, 0, &d) != NGX_OK)
    {
        /* deleted, or of a type this module does not serve */
        (void) ngx_http_q2api_accounts_remove(st->accounts, id);
        ngx_http_q2api_pg_row_delete(pg, id);
        return NGX_OK;
    }

    if (ngx_http_q2api_accounts_upsert(st->accounts, &d, NGX_HTTP_Q2API_SET_ALL,
                                   pg->generation)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, st->log, 0,
                      "q2api: postgres store: no room in the shared zone "
                      "for account \"%V\"; make q2api_zone larger", &d.id);
        return NGX_OK;
    }

    row = ngx_http_q2api_pg_row_get(pg, &d.id, 1);
    if (row == NULL) {
        return ngx_http_q2api_pg_error(pg, "read", "out of memory");
    }

    row->config = ngx_http_q2api_pg_digest_config(&d);
    row->state = ngx_http_q2api_pg_digest_state(&d);
    row->seen = pg->generation;

    return NGX_OK;
}


/* refresh leases ---------------------------------------------------------- */


/*
 * The refresh leases workers want: for each, take the lease, then read the
 * account's row (a statement of its own, so with a snapshot that sees what
 * the lease's last holder committed with its release).  Leases waiting to
 * be released make a write due now rather than at the next tick.
 * NGX_DECLINED: nothing to ask.
 */
static ngx_int_t
ngx_http_q2api_pg_lease(ngx_http_q2api_pg_t *pg)
{
    ngx_str_t   *ids;
    ngx_uint_t   i, release, failed;
    ngx_pool_t  *pool;
    const char  *values[2];

    pool = ngx_create_pool(4096, pg->st->log);
    if (pool == NULL) {
        return ngx_http_q2api_pg_error(pg, "refresh lease", "out of memory");
    }

    pg->ids = ngx_array_create(pool, 4, sizeof(ngx_str_t));
    if (pg->ids == NULL) {
        ngx_destroy_pool(pool);
        return ngx_http_q2api_pg_error(pg, "refresh lease", "out of memory");
    }

    if (ngx_http_q2api_accounts_db_lease_take(pg->st->accounts, pool, pg->ids,
                                          &release)
        != NGX_OK)
    {
        /* those taken are asked; the rest stay wanted */
        ngx_log_error(NGX_LOG_ERR, pg->st->log, 0,
                      "q2api: postgres store: out of memory taking "
                      "refresh leases");
    }

    if (release) {
        pg->want_write = 1;
    }

    if (pg->ids->nelts == 0) {
        pg->ids = NULL;
        ngx_destroy_pool(pool);
        return NGX_DECLINED;
    }

    pg->granted = ngx_pcalloc(pool, pg->ids->nelts * sizeof(ngx_uint_t));
    if (pg->granted == NULL) {
        pg->ids = NULL;
        ngx_destroy_pool(pool);
        return ngx_http_q2api_pg_error(pg, "refresh lease", "out of memory");
    }

    if (ngx_http_q2api_pg_begin(pg, NGX_HTTP_Q2API_PG_JOB_LEASE, pool)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ids = pg->ids->elts;
    failed = 0;

    for (i = 0; i < pg->ids->nelts; i++) {

        values[0] = ngx_http_q2api_pg_cstr(pool, &ids[i], &failed);
        values[1] = (const char *) pg->node;

        if (failed) {
            return ngx_http_q2api_pg_error(pg, "refresh lease",
                                           "out of memory");
        }

        if (ngx_http_q2api_pg_query(pg, ngx_http_q2api_pg_lease_take, 2,
                                    values)
            != NGX_OK
            || ngx_http_q2api_pg_query(pg, ngx_http_q2api_pg_select_one, 1,
                                       values)
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, pg->st->log, 0,
                   "q2api pg: asking %ui refresh leases", pg->ids->nelts);

    return ngx_http_q2api_pg_send(pg, NGX_HTTP_Q2API_PG_QUERY_TIMEOUT);
}


static ngx_int_t
ngx_http_q2api_pg_leased(ngx_http_q2api_pg_t *pg, PGresult *res,
    ngx_uint_t i)
{
    ngx_str_t                      *id;
    ngx_uint_t                      k;
    ngx_http_q2api_account_data_t   d, *row;

    k = i / 2;

    if (k >= pg->ids->nelts) {
        return ngx_http_q2api_pg_error(pg, "refresh lease",
                                       "more results than statements");
    }

    id = (ngx_str_t *) pg->ids->elts + k;

    if (i % 2 == 0) {
        pg->granted[k] = (PQntuples(res) == 1);
        return NGX_OK;
    }

    row = NULL;

    if (pg->granted[k]
        && PQntuples(res) == 1
        && PQnfields(res) == NGX_HTTP_Q2API_PG_NCOLUMNS
        && ngx_http_q2api_pg_account(res, 0, &d) == NGX_OK)
    {
        row = &d;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, pg->st->log, 0,
                   "q2api pg: refresh lease of \"%V\": %s", id,
                   pg->granted[k] ? "granted" : "denied");

    ngx_http_q2api_accounts_db_lease_answer(pg->st->accounts, id, pg->granted[k], row);

    return NGX_OK;
}


/* writes ------------------------------------------------------------------ */


/*
 * The dirty accounts in one transaction, in two round trips: BEGIN and
 * txid_current() first, so that the transaction's id is known before its
 * COMMIT is sent, then the rows and COMMIT.  NOTIFY is transactional: the
 * other hosts hear of the rows when they are committed.  NGX_DECLINED:
 * nothing to write.
 */
static ngx_int_t
ngx_http_q2api_pg_write(ngx_http_q2api_pg_t *pg)
{
    ngx_pool_t                 *pool;
    ngx_http_q2api_store_t     *st;
    ngx_http_q2api_pg_batch_t  *b;

    st = pg->st;

    pool = ngx_create_pool(4096, st->log);
    if (pool == NULL) {
        return ngx_http_q2api_pg_error(pg, "write", "out of memory");
    }

    b = ngx_pcalloc(pool, sizeof(ngx_http_q2api_pg_batch_t));
    if (b == NULL) {
        ngx_destroy_pool(pool);
        return ngx_http_q2api_pg_error(pg, "write", "out of memory");
    }

    b->pool = pool;

    b->taken = ngx_array_create(pool, 16,
                                sizeof(ngx_http_q2api_account_data_t));
    if (b->taken == NULL) {
        ngx_destroy_pool(pool);
        return ngx_http_q2api_pg_error(pg, "write", "out of memory");
    }

    if (ngx_http_q2api_accounts_take_dirty(st->accounts, pool, b->taken) != NGX_OK) {
        pg->batch = b;
        ngx_http_q2api_pg_batch_return(pg, &pg->batch);
        return ngx_http_q2api_pg_error(pg, "write", "out of memory");
    }

    if (b->taken->nelts == 0) {
        ngx_destroy_pool(pool);
        return NGX_DECLINED;
    }

    /* from here on, closing the connection gives them back */
    pg->batch = b;

    b->puts = ngx_pcalloc(pool,
                          b->taken->nelts * sizeof(ngx_http_q2api_pg_put_t));
    if (b->puts == NULL) {
        return ngx_http_q2api_pg_error(pg, "write", "out of memory");
    }

    if (ngx_http_q2api_pg_begin(pg, NGX_HTTP_Q2API_PG_JOB_XID, NULL)
        != NGX_OK
        || ngx_http_q2api_pg_query(pg, "BEGIN", 0, NULL) != NGX_OK
        || ngx_http_q2api_pg_query(pg, "SELECT txid_current()", 0, NULL)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, st->log, 0,
                   "q2api pg: writing %ui accounts", b->taken->nelts);

    return ngx_http_q2api_pg_send(pg, pg->closing
                                      ? NGX_HTTP_Q2API_PG_FINAL_TIMEOUT
                                      : NGX_HTTP_Q2API_PG_QUERY_TIMEOUT);
}


static ngx_int_t
ngx_http_q2api_pg_write_rows(ngx_http_q2api_pg_t *pg)
{
    ngx_uint_t                      i, failed;
    const char                     *values[2];
    ngx_http_q2api_pg_batch_t      *b;
    ngx_http_q2api_account_data_t  *d;

    b = pg->batch;
    failed = 0;

    if (ngx_http_q2api_pg_begin(pg, NGX_HTTP_Q2API_PG_JOB_WRITE, NULL)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    d = b->taken->elts;

    for (i = 0; i < b->taken->nelts; i++) {
        if (ngx_http_q2api_pg_put(pg, &d[i], &b->puts[i]) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    /*
     * A refresh lease goes in the transaction that writes the new token:
     * whoever takes it next reads that token, never the one before.
     */
    b->nrelease = 0;

    for (i = 0; i < b->taken->nelts; i++) {
        if (!d[i].db_lease_release) {
            continue;
        }

        values[0] = ngx_http_q2api_pg_cstr(pg->job_pool, &d[i].id, &failed);
        values[1] = (const char *) pg->node;

        if (failed) {
            return ngx_http_q2api_pg_error(pg, "write", "out of memory");
        }

        if (ngx_http_q2api_pg_query(pg, ngx_http_q2api_pg_lease_release, 2,
                                    values)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        b->nrelease++;
    }

    if (ngx_http_q2api_pg_query(pg, "COMMIT", 0, NULL) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_q2api_pg_send(pg, pg->closing
                                      ? NGX_HTTP_Q2API_PG_FINAL_TIMEOUT
                                      : NGX_HTTP_Q2API_PG_QUERY_TIMEOUT);
}


/* asks whether the interrupted write committed */
static ngx_int_t
ngx_http_q2api_pg_resolve_write(ngx_http_q2api_pg_t *pg)
{
    u_char      *p;
    const char  *values[1];

    if (ngx_http_q2api_pg_begin(pg, NGX_HTTP_Q2API_PG_JOB_RESOLVE, NULL)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(pg->job_pool, NGX_INT64_LEN + 1);
    if (p == NULL) {
        return ngx_http_q2api_pg_error(pg, "write", "out of memory");
    }

    *ngx_sprintf(p, "%uL", pg->unsure->xid) = '\0';
    values[0] = (const char *) p;

    if (ngx_http_q2api_pg_query(pg, "SELECT txid_status($1::bigint)", 1,
                                values)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    pg->unsure_checked = ngx_current_msec;

    return ngx_http_q2api_pg_send(pg, pg->closing
                                      ? NGX_HTTP_Q2API_PG_FINAL_TIMEOUT
                                      : NGX_HTTP_Q2API_PG_QUERY_TIMEOUT);
}


static ngx_int_t
ngx_http_q2api_pg_resolved(ngx_http_q2api_pg_t *pg, PGresult *res)
{
    ngx_str_t  s;

    s.len = 0;

    if (PQntuples(res) == 1) {
        ngx_http_q2api_pg_value(res, 0, 0, &s);
    }

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, pg->st->log, 0,
                   "q2api pg: transaction %uL: \"%V\"", pg->unsure->xid, &s);

    if (s.len == 9 && ngx_strncmp(s.data, "committed", 9) == 0) {
        ngx_http_q2api_pg_written(pg, pg->unsure);
        ngx_destroy_pool(pg->unsure->pool);
        pg->unsure = NULL;
        return NGX_OK;
    }

    if (s.len == 11 && ngx_strncmp(s.data, "in progress", 11) == 0
        && !pg->closing)
    {
        /* its session has not ended yet: ask again later */
        return NGX_OK;
    }

    /* aborted, or too old to know: it did not count */
    ngx_http_q2api_pg_batch_return(pg, &pg->unsure);

    return NGX_OK;
}


static const char *
ngx_http_q2api_pg_cstr(ngx_pool_t *pool, ngx_str_t *s, ngx_uint_t *failed)
{
    u_char  *p;

    /* an empty string is written as NULL, as q2api leaves unset columns */
    if (s->len == 0) {
        return NULL;
    }

    p = ngx_pnalloc(pool, s->len + 1);
    if (p == NULL) {
        *failed = 1;
        return NULL;
    }

    *ngx_cpymem(p, s->data, s->len) = '\0';

    return (const char *) p;
}


static const char *
ngx_http_q2api_pg_num(u_char **buf, uint64_t n, ngx_uint_t null_if_zero)
{
    u_char  *p;

    if (n == 0 && null_if_zero) {
        return NULL;
    }

    p = *buf;
    *buf = ngx_sprintf(p, "%uL", n) + 1;
    (*buf)[-1] = '\0';

    return (const char *) p;
}


static const char *
ngx_http_q2api_pg_time(u_char **buf, time_t t)
{
    u_char     *p;
    struct tm   tm;

    if (t == 0) {
        return NULL;
    }

    /* q2api's format: %Y-%m-%dT%H:%M:%S, UTC */
    ngx_libc_gmtime(t, &tm);

    p = *buf;
    *buf = ngx_sprintf(p, "%4d-%02d-%02dT%02d:%02d:%02d",
                       tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                       tm.tm_hour, tm.tm_min, tm.tm_sec) + 1;
    (*buf)[-1] = '\0';

    return (const char *) p;
}


static ngx_int_t
ngx_http_q2api_pg_put(ngx_http_q2api_pg_t *pg,
    ngx_http_q2api_account_data_t *d, ngx_http_q2api_pg_put_t *put)
{
    u_char                   *buf;
    ngx_uint_t                failed, known;
    ngx_pool_t               *pool;
    const char               *v[NGX_HTTP_Q2API_PG_UPSERT_PARAMS];
    ngx_http_q2api_pg_row_t  *row;

    pool = pg->job_pool;
    failed = 0;

    if (d->deleted) {
        v[0] = ngx_http_q2api_pg_cstr(pool, &d->id, &failed);
        v[1] = (const char *) pg->node;

        if (failed) {
            return ngx_http_q2api_pg_error(pg, "write", "out of memory");
        }

        return ngx_http_q2api_pg_query(pg, ngx_http_q2api_pg_delete, 2, v);
    }

    row = ngx_http_q2api_pg_row_get(pg, &d->id, 0);
    known = (row != NULL);

    put->config = ngx_http_q2api_pg_digest_config(d);
    put->state = ngx_http_q2api_pg_digest_state(d);
    put->write_config = !known || row->config != put->config;
    put->write_state = !known || row->state != put->state;

    /* 13 numbers of at most 20 digits, 4 times of 19 characters */
    buf = ngx_pnalloc(pool, 13 * (NGX_INT64_LEN + 1) + 4 * 20);
    if (buf == NULL) {
        return ngx_http_q2api_pg_error(pg, "write", "out of memory");
    }

    v[0] = ngx_http_q2api_pg_cstr(pool, &d->id, &failed);
    v[1] = ngx_http_q2api_pg_cstr(pool, &d->label, &failed);
    v[2] = ngx_http_q2api_pg_cstr(pool, &d->client_id, &failed);
    v[3] = ngx_http_q2api_pg_cstr(pool, &d->client_secret, &failed);
    v[4] = ngx_http_q2api_pg_cstr(pool, &d->refresh_token, &failed);
    v[5] = ngx_http_q2api_pg_cstr(pool, &d->access_token, &failed);
    v[6] = ngx_http_q2api_pg_cstr(pool, &d->other, &failed);
    v[7] = ngx_http_q2api_pg_time(&buf,
                                  d->created_at ? d->created_at : ngx_time());
    v[8] = ngx_http_q2api_pg_time(&buf, ngx_time());
    v[9] = d->enabled ? "1" : "0";
    v[10] = ngx_http_q2api_pg_num(&buf, d->consecutive_errors, 0);
    v[11] = ngx_http_q2api_pg_time(&buf, d->token_expires);
    v[12] = (d->type == NGX_HTTP_Q2API_ACCOUNT_KIRO) ? "kiro" : "amazonq";
    v[13] = ngx_http_q2api_pg_cstr(pool, &d->profile_arn, &failed);
    v[14] = ngx_http_q2api_status_name(d->status);
    v[15] = ngx_http_q2api_pg_cstr(pool, &d->reason, &failed);
    v[16] = ngx_http_q2api_pg_num(&buf, d->status_since, 1);
    v[17] = ngx_http_q2api_pg_num(&buf, d->until, 1);
    v[18] = ngx_http_q2api_pg_num(&buf, d->token_expires, 1);
    v[19] = ngx_http_q2api_pg_num(&buf, d->d_successes, 0);
    v[20] = ngx_http_q2api_pg_num(&buf, d->d_errors, 0);
    v[21] = ngx_http_q2api_pg_num(&buf, d->d_tokens_in, 0);
    v[22] = ngx_http_q2api_pg_num(&buf, d->d_tokens_out, 0);
    v[23] = ngx_http_q2api_pg_num(&buf, d->last_used, 1);
    v[24] = ngx_http_q2api_pg_cstr(pool, &d->last_error, &failed);
    v[25] = put->write_config ? "t" : "f";
    v[26] = put->write_state ? "t" : "f";

    /* the latest error is the one this host just saw */
    v[27] = (put->write_state || d->d_errors) ? "t" : "f";
    v[28] = known ? "f" : "t";
    v[29] = (const char *) pg->node;

    if (failed) {
        return ngx_http_q2api_pg_error(pg, "write", "out of memory");
    }

    return ngx_http_q2api_pg_query(pg, ngx_http_q2api_pg_upsert,
                                   NGX_HTTP_Q2API_PG_UPSERT_PARAMS, v);
}


/* the batch is committed: remember what the rows hold now */
static void
ngx_http_q2api_pg_written(ngx_http_q2api_pg_t *pg,
    ngx_http_q2api_pg_batch_t *batch)
{
    ngx_uint_t                      i;
    ngx_http_q2api_pg_row_t        *row;
    ngx_http_q2api_pg_put_t        *put;
    ngx_http_q2api_account_data_t  *d;

    d = batch->taken->elts;
    put = batch->puts;

    for (i = 0; i < batch->taken->nelts; i++) {

        if (d[i].deleted || put[i].gone) {
            /* deleted here, or elsewhere before this write */
            if (put[i].gone) {
                (void) ngx_http_q2api_accounts_remove(pg->st->accounts, &d[i].id);
            }

            ngx_http_q2api_pg_row_delete(pg, &d[i].id);
            continue;
        }

        row = ngx_http_q2api_pg_row_get(pg, &d[i].id, 1);
        if (row == NULL) {
            /* the next load fills it in; until then config is rewritten */
            continue;
        }

        if (put[i].write_config) {
            row->config = put[i].config;
        }

        if (put[i].write_state) {
            row->state = put[i].state;
        }

        row->seen = pg->generation;
    }
}


/* rows -------------------------------------------------------------------- */


static void
ngx_http_q2api_pg_value(PGresult *res, int i, int col, ngx_str_t *s)
{
    if (PQgetisnull(res, i, col)) {
        s->len = 0;
        s->data = NULL;
        return;
    }

    s->data = (u_char *) PQgetvalue(res, i, col);
    s->len = PQgetlength(res, i, col);
}


static uint64_t
ngx_http_q2api_pg_int(PGresult *res, int i, int col)
{
    off_t      n;
    ngx_str_t  s;

    ngx_http_q2api_pg_value(res, i, col, &s);

    if (s.len == 0) {
        return 0;
    }

    n = ngx_atoof(s.data, s.len);

    return (n == NGX_ERROR) ? 0 : (uint64_t) n;
}


/* q2api's "%Y-%m-%dT%H:%M:%S" (UTC), with or without a fraction or zone */
static time_t
ngx_http_q2api_pg_parse_time(ngx_str_t *s)
{
    u_char     *p;
    ngx_int_t   v[6];
    ngx_uint_t  i, k;
    struct tm   tm;
    static const ngx_uint_t  w[6] = { 4, 2, 2, 2, 2, 2 };

    p = s->data;

    if (s->len < 19) {
        return 0;
    }

    for (i = 0; i < 6; i++) {
        v[i] = 0;

        for (k = 0; k < w[i]; k++) {
            if (*p < '0' || *p > '9') {
                return 0;
            }

            v[i] = v[i] * 10 + (*p++ - '0');
        }

        if (i < 5) {
            /* - - T : : */
            p++;
        }
    }

    ngx_memzero(&tm, sizeof(struct tm));

    tm.tm_year = v[0] - 1900;
    tm.tm_mon = v[1] - 1;
    tm.tm_mday = v[2];
    tm.tm_hour = v[3];
    tm.tm_min = v[4];
    tm.tm_sec = v[5];

    return timegm(&tm);
}




/* one row as the pool takes it; strings point into the result */
static ngx_int_t
ngx_http_q2api_pg_account(PGresult *res, int i,
    ngx_http_q2api_account_data_t *d)
{
    ngx_str_t  s;

    ngx_memzero(d, sizeof(ngx_http_q2api_account_data_t));

    ngx_http_q2api_pg_value(res, i, NGX_HTTP_Q2API_PG_ID, &d->id);

    if (d->id.len == 0) {
        return NGX_DECLINED;
    }

    ngx_http_q2api_pg_value(res, i, NGX_HTTP_Q2API_PG_TYPE, &s);

    if (s.len == 0 || (s.len == 7 && ngx_strncmp(s.data, "amazonq", 7) == 0))
    {
        d->type = NGX_HTTP_Q2API_ACCOUNT_AMAZONQ;

    } else if (s.len == 4 && ngx_strncmp(s.data, "kiro", 4) == 0) {
        d->type = NGX_HTTP_Q2API_ACCOUNT_KIRO;

    } else {
        return NGX_DECLINED;
    }

    ngx_http_q2api_pg_value(res, i, NGX_HTTP_Q2API_PG_LABEL, &d->label);
    ngx_http_q2api_pg_value(res, i, NGX_HTTP_Q2API_PG_CLIENT_ID,
                            &d->client_id);
    ngx_http_q2api_pg_value(res, i, NGX_HTTP_Q2API_PG_CLIENT_SECRET,
                            &d->client_secret);
    ngx_http_q2api_pg_value(res, i, NGX_HTTP_Q2API_PG_REFRESH_TOKEN,
                            &d->refresh_token);
    ngx_http_q2api_pg_value(res, i, NGX_HTTP_Q2API_PG_ACCESS_TOKEN,
                            &d->access_token);
    ngx_http_q2api_pg_value(res, i, NGX_HTTP_Q2API_PG_PROFILE_ARN,
                            &d->profile_arn);
    ngx_http_q2api_pg_value(res, i, NGX_HTTP_Q2API_PG_OTHER, &d->other);

    /* q2api's 0/1; NULL is the column's default */
    ngx_http_q2api_pg_value(res, i, NGX_HTTP_Q2API_PG_ENABLED, &s);
    d->enabled = !(s.len == 1 && s.data[0] == '0');

    ngx_http_q2api_pg_value(res, i, NGX_HTTP_Q2API_PG_STATUS, &s);
    d->status = ngx_http_q2api_status_from_name(s.data, s.len);

    ngx_http_q2api_pg_value(res, i, NGX_HTTP_Q2API_PG_STATUS_REASON,
                            &d->reason);
    ngx_http_q2api_pg_value(res, i, NGX_HTTP_Q2API_PG_LAST_ERROR,
                            &d->last_error);

    d->status_since = (time_t) ngx_http_q2api_pg_int(res, i,
                                             NGX_HTTP_Q2API_PG_STATUS_SINCE);
    d->until = (time_t) ngx_http_q2api_pg_int(res, i,
                                             NGX_HTTP_Q2API_PG_STATUS_UNTIL);
    d->last_used = (time_t) ngx_http_q2api_pg_int(res, i,
                                             NGX_HTTP_Q2API_PG_LAST_USED);
    d->token_expires = (time_t) ngx_http_q2api_pg_int(res, i,
                                             NGX_HTTP_Q2API_PG_TOKEN_EXPIRES);

    if (d->token_expires == 0) {
        /* set by q2api when it refreshes a token */
        ngx_http_q2api_pg_value(res, i, NGX_HTTP_Q2API_PG_EXPIRES_AT, &s);
        d->token_expires = ngx_http_q2api_pg_parse_time(&s);
    }

    ngx_http_q2api_pg_value(res, i, NGX_HTTP_Q2API_PG_CREATED_AT, &s);
    d->created_at = ngx_http_q2api_pg_parse_time(&s);
    ngx_http_q2api_pg_value(res, i, NGX_HTTP_Q2API_PG_UPDATED_AT, &s);
    d->updated_at = ngx_http_q2api_pg_parse_time(&s);

    /* q2api's error_count counts consecutive failures */
    d->consecutive_errors = ngx_http_q2api_pg_int(res, i,
                                             NGX_HTTP_Q2API_PG_ERROR_COUNT);
    d->successes = ngx_http_q2api_pg_int(res, i,
                                         NGX_HTTP_Q2API_PG_SUCCESS_COUNT);
    d->errors = ngx_http_q2api_pg_int(res, i, NGX_HTTP_Q2API_PG_TOTAL_ERRORS);
    d->tokens_in = ngx_http_q2api_pg_int(res, i, NGX_HTTP_Q2API_PG_TOKENS_IN);
    d->tokens_out = ngx_http_q2api_pg_int(res, i,
                                          NGX_HTTP_Q2API_PG_TOKENS_OUT);

    return NGX_OK;
}


static ngx_http_q2api_pg_row_t *
ngx_http_q2api_pg_row_get(ngx_http_q2api_pg_t *pg, ngx_str_t *id,
    ngx_uint_t create)
{
    uint32_t                  hash;
    ngx_str_node_t           *sn;
    ngx_http_q2api_pg_row_t  *row;

    hash = ngx_crc32_short(id->data, id->len);

    sn = ngx_str_rbtree_lookup(&pg->rows, id, hash);

    if (sn != NULL || !create) {
        return (ngx_http_q2api_pg_row_t *) sn;
    }

    row = ngx_alloc(sizeof(ngx_http_q2api_pg_row_t) + id->len, pg->st->log);
    if (row == NULL) {
        return NULL;
    }

    ngx_memzero(row, sizeof(ngx_http_q2api_pg_row_t));

    row->sn.str.data = (u_char *) row + sizeof(ngx_http_q2api_pg_row_t);
    row->sn.str.len = id->len;
    ngx_memcpy(row->sn.str.data, id->data, id->len);
    row->sn.node.key = hash;

    ngx_rbtree_insert(&pg->rows, &row->sn.node);

    return row;
}


static void
ngx_http_q2api_pg_row_delete(ngx_http_q2api_pg_t *pg, ngx_str_t *id)
{
    ngx_http_q2api_pg_row_t  *row;

    row = ngx_http_q2api_pg_row_get(pg, id, 0);

    if (row) {
        ngx_rbtree_delete(&pg->rows, &row->sn.node);
        ngx_free(row);
    }
}


/* rows the last full load did not see are gone */
static void
ngx_http_q2api_pg_row_sweep(ngx_http_q2api_pg_t *pg)
{
    ngx_rbtree_node_t        *node, *next;
    ngx_http_q2api_pg_row_t  *row;

    if (pg->rows.root == pg->rows.sentinel) {
        return;
    }

    node = ngx_rbtree_min(pg->rows.root, pg->rows.sentinel);

    while (node) {
        next = ngx_rbtree_next(&pg->rows, node);
        row = (ngx_http_q2api_pg_row_t *) node;

        if (row->seen != pg->generation) {
            ngx_rbtree_delete(&pg->rows, node);
            ngx_free(row);
        }

        node = next;
    }
}


static void
ngx_http_q2api_pg_md5_str(ngx_md5_t *md5, ngx_str_t *s)
{
    ngx_md5_update(md5, &s->len, sizeof(size_t));
    ngx_md5_update(md5, s->data, s->len);
}


static uint64_t
ngx_http_q2api_pg_digest_config(ngx_http_q2api_account_data_t *d)
{
    uint64_t   r;
    u_char     out[16];
    ngx_md5_t  md5;

    ngx_md5_init(&md5);
    ngx_http_q2api_pg_md5_str(&md5, &d->label);
    ngx_http_q2api_pg_md5_str(&md5, &d->client_id);
    ngx_http_q2api_pg_md5_str(&md5, &d->client_secret);
    ngx_http_q2api_pg_md5_str(&md5, &d->refresh_token);
    ngx_http_q2api_pg_md5_str(&md5, &d->access_token);
    ngx_http_q2api_pg_md5_str(&md5, &d->profile_arn);
    ngx_http_q2api_pg_md5_str(&md5, &d->other);
    ngx_md5_update(&md5, &d->enabled, sizeof(ngx_flag_t));
    ngx_md5_update(&md5, &d->type, sizeof(ngx_uint_t));
    ngx_md5_update(&md5, &d->token_expires, sizeof(time_t));
    ngx_md5_final(out, &md5);

    ngx_memcpy(&r, out, sizeof(uint64_t));

    return r;
}


static uint64_t
ngx_http_q2api_pg_digest_state(ngx_http_q2api_account_data_t *d)
{
    uint64_t   r;
    u_char     out[16];
    ngx_md5_t  md5;

    ngx_md5_init(&md5);
    ngx_md5_update(&md5, &d->status, sizeof(ngx_uint_t));
    ngx_http_q2api_pg_md5_str(&md5, &d->reason);
    ngx_md5_update(&md5, &d->status_since, sizeof(time_t));
    ngx_md5_update(&md5, &d->until, sizeof(time_t));
    ngx_md5_final(out, &md5);

    ngx_memcpy(&r, out, sizeof(uint64_t));

    return r;
}


/* errors ------------------------------------------------------------------ */


/* "what: message" on one line, for the log */
static ngx_int_t
ngx_http_q2api_pg_error(ngx_http_q2api_pg_t *pg, const char *what,
    const char *msg)
{
    u_char  *p, *q, *last;

    last = pg->err + sizeof(pg->err) - 1;
    p = ngx_snprintf(pg->err, last - pg->err, "%s: %s", what, msg);
    *p = '\0';

    /* libpq's messages span lines and indent them */
    for (p = pg->err, q = pg->err; *q; q++) {
        if (*q == '\n' || *q == '\r' || *q == '\t') {
            *q = ' ';
        }

        if (*q == ' ' && (p == pg->err || p[-1] == ' ')) {
            continue;
        }

        *p++ = *q;
    }

    while (p > pg->err && p[-1] == ' ') {
        p--;
    }

    *p = '\0';

    return NGX_ERROR;
}


/*
 * Severity, SQLSTATE and the primary message only: a DETAIL may quote a
 * row, and a row holds tokens.  An ERROR rolled the transaction back; a
 * FATAL or PANIC ended the session, perhaps after a COMMIT whose answer
 * was lost.
 */
static ngx_int_t
ngx_http_q2api_pg_result_error(ngx_http_q2api_pg_t *pg, PGresult *res)
{
    u_char      *p, msg[NGX_HTTP_Q2API_PG_ERR_LEN];
    const char  *severity, *code, *primary;

    severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

    if (severity == NULL) {
        severity = PQresultErrorField(res, PG_DIAG_SEVERITY);
    }

    if (PQresultStatus(res) == PGRES_PIPELINE_ABORTED
        || (severity && ngx_strcmp(severity, "ERROR") == 0))
    {
        pg->sql_error = 1;
    }

    if (primary == NULL) {
        primary = PQresStatus(PQresultStatus(res));
    }

    p = ngx_snprintf(msg, sizeof(msg) - 1, "%s %s: %s",
                     severity ? severity : "ERROR", code ? code : "-",
                     primary);
    *p = '\0';

    return ngx_http_q2api_pg_error(pg, ngx_http_q2api_pg_job_name(pg->job),
                                   (const char *) msg);
}


static const char *
ngx_http_q2api_pg_job_name(ngx_http_q2api_pg_job_e job)
{
    switch (job) {

    case NGX_HTTP_Q2API_PG_JOB_SCHEMA:
    case NGX_HTTP_Q2API_PG_JOB_MIGRATE:
        return "schema";

    case NGX_HTTP_Q2API_PG_JOB_LOAD:
        return "load";

    case NGX_HTTP_Q2API_PG_JOB_FETCH:
        return "read";

    case NGX_HTTP_Q2API_PG_JOB_XID:
    case NGX_HTTP_Q2API_PG_JOB_WRITE:
    case NGX_HTTP_Q2API_PG_JOB_RESOLVE:
        return "write";

    case NGX_HTTP_Q2API_PG_JOB_LEASE:
        return "refresh lease";

    default:
        return "connect";
    }
}
