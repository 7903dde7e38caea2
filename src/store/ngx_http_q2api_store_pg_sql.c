/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The PostgreSQL store's SQL: the statements, and the schema they need
 * (q2api's accounts table, created or brought up to date, and the table
 * of refresh leases).
 */


#include "ngx_http_q2api_store_pg.h"


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
const char  ngx_http_q2api_pg_lease_take[] =
    "INSERT INTO q2api_refresh_lease AS l (account_id, node, until) "
    "VALUES ($1::text, $2::text, now() + interval '30 seconds') "
    "ON CONFLICT (account_id) DO UPDATE "
    "SET node = excluded.node, until = excluded.until "
    "WHERE l.until < now() OR l.node = excluded.node "
    "RETURNING node";

const char  ngx_http_q2api_pg_lease_release[] =
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
    { "q2api_disabled", q2api_add("q2api_disabled", "INTEGER DEFAULT 0") },
    { NULL, NULL }
};

#undef q2api_add



/*
 * The columns read, in this order: token_expires after expires_at, which
 * q2api sets alone, so that this module's wins when it is set.
 */
ngx_http_q2api_row_field_e  ngx_http_q2api_pg_select[] = {
    NGX_HTTP_Q2API_ROW_ID,
    NGX_HTTP_Q2API_ROW_LABEL,
    NGX_HTTP_Q2API_ROW_CLIENT_ID,
    NGX_HTTP_Q2API_ROW_CLIENT_SECRET,
    NGX_HTTP_Q2API_ROW_REFRESH_TOKEN,
    NGX_HTTP_Q2API_ROW_ACCESS_TOKEN,
    NGX_HTTP_Q2API_ROW_OTHER,
    NGX_HTTP_Q2API_ROW_CREATED_AT,
    NGX_HTTP_Q2API_ROW_UPDATED_AT,
    NGX_HTTP_Q2API_ROW_ENABLED,
    NGX_HTTP_Q2API_ROW_ERROR_COUNT,
    NGX_HTTP_Q2API_ROW_SUCCESS_COUNT,
    NGX_HTTP_Q2API_ROW_EXPIRES_AT,
    NGX_HTTP_Q2API_ROW_TYPE,
    NGX_HTTP_Q2API_ROW_PROFILE_ARN,
    NGX_HTTP_Q2API_ROW_STATUS,
    NGX_HTTP_Q2API_ROW_STATUS_REASON,
    NGX_HTTP_Q2API_ROW_STATUS_SINCE,
    NGX_HTTP_Q2API_ROW_STATUS_UNTIL,
    NGX_HTTP_Q2API_ROW_TOKEN_EXPIRES,
    NGX_HTTP_Q2API_ROW_TOTAL_ERRORS,
    NGX_HTTP_Q2API_ROW_TOKENS_IN,
    NGX_HTTP_Q2API_ROW_TOKENS_OUT,
    NGX_HTTP_Q2API_ROW_LAST_USED,
    NGX_HTTP_Q2API_ROW_LAST_ERROR,
    NGX_HTTP_Q2API_ROW_END
};


/*
 * "enabled" as q2api reads it: off while this module finds the account
 * suspended or in need of a login, and q2api_disabled = 1 to remember
 * that it was the module's doing; back on when the status is.  The
 * operator's own flag ("intent") is $10 when this host changed the
 * configuration, else what the row holds: enabled, or q2api_disabled.  An
 * account an operator disabled (enabled = 0, q2api_disabled = 0) is never
 * turned on by a status.
 */
#define NGX_HTTP_Q2API_PG_OFF_STATUSES  "('suspended', 'needs_login')"

#define NGX_HTTP_Q2API_PG_INTENT                                             \
    "(CASE WHEN $26 THEN $10::integer = 1 "                                  \
    "ELSE COALESCE(a.enabled, 1) = 1 OR COALESCE(a.q2api_disabled, 0) = 1 "  \
    "END)"

#define NGX_HTTP_Q2API_PG_OFF                                                \
    "(COALESCE(CASE WHEN $27 THEN $15::text ELSE a.status END, 'active') "   \
    "IN " NGX_HTTP_Q2API_PG_OFF_STATUSES ")"


/*
 * One dirty account.  Configuration ($26) and state ($27, $28) columns are
 * set only when they changed here, so that a token refreshed by q2api or a
 * status set by another host is not overwritten with this host's older
 * copy; counters always add this host's deltas; a row deleted elsewhere is
 * not brought back ($29: insert only accounts that are new here).
 */
const char  ngx_http_q2api_pg_upsert[] =
    "WITH w AS ("
    "INSERT INTO accounts AS a (id, label, clientId, clientSecret, "
    "refreshToken, accessToken, other, created_at, updated_at, enabled, "
    "error_count, expires_at, type, profile_arn, status, status_reason, "
    "status_since, status_until, token_expires, success_count, "
    "total_errors, tokens_in, tokens_out, last_used, last_error, "
    "q2api_disabled) "
    "SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::text, "
    "$7::text, $8::text, $9::text, "
    "CASE WHEN $10::integer = 1 AND $15::text NOT IN "
        NGX_HTTP_Q2API_PG_OFF_STATUSES " THEN 1 ELSE 0 END, "
    "$11::integer, $12::text, "
    "$13::text, $14::text, $15::text, $16::text, $17::bigint, $18::bigint, "
    "$19::bigint, $20::integer, $21::bigint, $22::bigint, $23::bigint, "
    "$24::bigint, $25::text, "
    "CASE WHEN $10::integer = 1 AND $15::text IN "
        NGX_HTTP_Q2API_PG_OFF_STATUSES " THEN 1 ELSE 0 END "
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
    "enabled = CASE WHEN " NGX_HTTP_Q2API_PG_INTENT " AND NOT "
        NGX_HTTP_Q2API_PG_OFF " THEN 1 ELSE 0 END, "
    "q2api_disabled = CASE WHEN " NGX_HTTP_Q2API_PG_INTENT " AND "
        NGX_HTTP_Q2API_PG_OFF " THEN 1 ELSE 0 END, "
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


/* the upsert's $1 to $25 */
ngx_http_q2api_row_field_e  ngx_http_q2api_pg_upsert_fields[] = {
    NGX_HTTP_Q2API_ROW_ID,
    NGX_HTTP_Q2API_ROW_LABEL,
    NGX_HTTP_Q2API_ROW_CLIENT_ID,
    NGX_HTTP_Q2API_ROW_CLIENT_SECRET,
    NGX_HTTP_Q2API_ROW_REFRESH_TOKEN,
    NGX_HTTP_Q2API_ROW_ACCESS_TOKEN,
    NGX_HTTP_Q2API_ROW_OTHER,
    NGX_HTTP_Q2API_ROW_CREATED_AT,
    NGX_HTTP_Q2API_ROW_UPDATED_AT,
    NGX_HTTP_Q2API_ROW_ENABLED,
    NGX_HTTP_Q2API_ROW_ERROR_COUNT,
    NGX_HTTP_Q2API_ROW_EXPIRES_AT,
    NGX_HTTP_Q2API_ROW_TYPE,
    NGX_HTTP_Q2API_ROW_PROFILE_ARN,
    NGX_HTTP_Q2API_ROW_STATUS,
    NGX_HTTP_Q2API_ROW_STATUS_REASON,
    NGX_HTTP_Q2API_ROW_STATUS_SINCE,
    NGX_HTTP_Q2API_ROW_STATUS_UNTIL,
    NGX_HTTP_Q2API_ROW_TOKEN_EXPIRES,
    NGX_HTTP_Q2API_ROW_SUCCESS_COUNT,
    NGX_HTTP_Q2API_ROW_TOTAL_ERRORS,
    NGX_HTTP_Q2API_ROW_TOKENS_IN,
    NGX_HTTP_Q2API_ROW_TOKENS_OUT,
    NGX_HTTP_Q2API_ROW_LAST_USED,
    NGX_HTTP_Q2API_ROW_LAST_ERROR,
    NGX_HTTP_Q2API_ROW_END
};


const char  ngx_http_q2api_pg_delete[] =
    "WITH w AS (DELETE FROM accounts WHERE id = $1::text RETURNING id) "
    "SELECT id, pg_notify('" NGX_HTTP_Q2API_PG_CHANNEL "', "
    "$2::text || ':' || id) FROM w";


/* the SELECTs of the columns the row codec reads */
ngx_int_t
ngx_http_q2api_pg_statements(ngx_conf_t *cf, ngx_http_q2api_pg_t *pg)
{
    u_char  *columns, *p;
    size_t   len;

    columns = ngx_http_q2api_row_columns(cf->pool, ngx_http_q2api_pg_select);
    if (columns == NULL) {
        return NGX_ERROR;
    }

    len = ngx_strlen(columns);

    /* NGX_HTTP_Q2API_PG_SELECT_EXTRA columns after the codec's */
    p = ngx_pnalloc(cf->pool, sizeof("SELECT , q2api_disabled FROM accounts")
                              + len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(p, "SELECT %s, q2api_disabled FROM accounts%Z", columns);
    pg->select_all = (const char *) p;

    p = ngx_pnalloc(cf->pool,
                    sizeof("SELECT , q2api_disabled FROM accounts "
                           "WHERE id = $1::text") + len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(p, "SELECT %s, q2api_disabled FROM accounts "
                "WHERE id = $1::text%Z", columns);
    pg->select_one = (const char *) p;

    return NGX_OK;
}


/* schema ------------------------------------------------------------------ */


/*
 * The table as q2api creates it, then LISTEN; the columns it has decide
 * the migration.  The advisory lock keeps hosts that start together from
 * racing on CREATE TABLE.
 */
ngx_int_t
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


ngx_int_t
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
ngx_int_t
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
