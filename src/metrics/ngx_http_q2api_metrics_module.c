/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The metrics module: its directives, the label tables the configuration
 * fills, the zone's size and layout, and taking the zone over on reload.
 */


#include "ngx_http_q2api_metrics_zone.h"
#include "q2api_models.h"


static ngx_int_t ngx_http_q2api_metrics_init(ngx_conf_t *cf);
static void *ngx_http_q2api_metrics_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_q2api_metrics_init_main_conf(ngx_conf_t *cf,
    void *conf);
static ngx_int_t ngx_http_q2api_metrics_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_http_q2api_metrics_init_process(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_q2api_metrics_push_model(
    ngx_http_q2api_metrics_conf_t *mc, const char *id);
static void ngx_http_q2api_metrics_hash(uint32_t *crc, const char *s);
static char *ngx_http_q2api_metrics_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);


#define NGX_HTTP_Q2API_M_ACCOUNTS_MAX  100


static ngx_command_t  ngx_http_q2api_metrics_commands[] = {

    { ngx_string("q2api_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_q2api_metrics_directive,
      0,
      0,
      NULL },

    { ngx_string("q2api_metrics_accounts"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_q2api_metrics_conf_t, accounts_max),
      NULL },

    { ngx_string("q2api_metrics_interval"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_q2api_metrics_conf_t, interval),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_q2api_metrics_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_q2api_metrics_init,           /* postconfiguration */

    ngx_http_q2api_metrics_create_main_conf, /* create main configuration */
    ngx_http_q2api_metrics_init_main_conf, /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_q2api_metrics_module = {
    NGX_MODULE_V1,
    &ngx_http_q2api_metrics_module_ctx,    /* module context */
    ngx_http_q2api_metrics_commands,       /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_q2api_metrics_init_process,   /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


const char  *ngx_http_q2api_metrics_outcomes[] = {
    "ok", "client_error", "rate_limited", "no_account", "upstream_error",
    "timeout", "aborted"
};

const char  *ngx_http_q2api_metrics_classes[] = {
    "ok", "client", "capacity", "auth", "suspended", "quota", "throttled",
    "error", "timeout", "aborted"
};

const char  *ngx_http_q2api_metrics_directions[] = {
    "input", "output", "cache_read", "cache_write"
};

const char  *ngx_http_q2api_metrics_refreshes[] = {
    "ok", "refused", "error"
};

const char  *ngx_http_q2api_metrics_logins[] = {
    "ok", "expired", "refused", "error"
};

const char  *ngx_http_q2api_metrics_donations[] = {
    "added", "renewed", "refused", "rate_limited", "error"
};

/* upper bounds in ms; the last bucket is +Inf */
const ngx_msec_t  ngx_http_q2api_metrics_bounds[] = {
    50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000,
    300000
};


static void *
ngx_http_q2api_metrics_create_main_conf(ngx_conf_t *cf)
{
    const q2api_model_t            *m;
    ngx_http_q2api_metrics_conf_t  *mc;

    mc = ngx_pcalloc(cf->pool, sizeof(ngx_http_q2api_metrics_conf_t));
    if (mc == NULL) {
        return NULL;
    }

    if (ngx_array_init(&mc->models, cf->pool, 16, sizeof(char *)) != NGX_OK
        || ngx_array_init(&mc->keys, cf->pool, 4, sizeof(ngx_str_t))
           != NGX_OK)
    {
        return NULL;
    }

    mc->accounts_max = NGX_CONF_UNSET_UINT;
    mc->interval = NGX_CONF_UNSET;

    for (m = q2api_builtin_models; m->id; m++) {
        if (ngx_http_q2api_metrics_push_model(mc, m->id) != NGX_OK) {
            return NULL;
        }
    }

    return mc;
}


static char *
ngx_http_q2api_metrics_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_q2api_metrics_conf_t  *mc = conf;

    ngx_conf_init_uint_value(mc->accounts_max, NGX_HTTP_Q2API_M_ACCOUNTS_MAX);
    ngx_conf_init_value(mc->interval, NGX_HTTP_Q2API_M_RING_STEP);

    if (mc->interval < 1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"q2api_metrics_interval\" must be at least 1s");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_q2api_metrics_add_model(ngx_conf_t *cf, const char *id)
{
    ngx_http_q2api_metrics_conf_t  *mc;

    mc = ngx_http_conf_get_module_main_conf(cf,
                                            ngx_http_q2api_metrics_module);

    return ngx_http_q2api_metrics_push_model(mc, id);
}


static ngx_int_t
ngx_http_q2api_metrics_push_model(ngx_http_q2api_metrics_conf_t *mc,
    const char *id)
{
    char       **name;
    ngx_uint_t   i;

    name = mc->models.elts;

    for (i = 0; i < mc->models.nelts; i++) {
        if (ngx_strcmp(name[i], id) == 0) {
            return NGX_OK;
        }
    }

    name = ngx_array_push(&mc->models);
    if (name == NULL) {
        return NGX_ERROR;
    }

    *name = (char *) id;

    return NGX_OK;
}


ngx_int_t
ngx_http_q2api_metrics_add_key(ngx_conf_t *cf, ngx_str_t *name,
    ngx_uint_t *slot)
{
    ngx_str_t                      *key;
    ngx_uint_t                      i;
    ngx_http_q2api_metrics_conf_t  *mc;

    mc = ngx_http_conf_get_module_main_conf(cf,
                                            ngx_http_q2api_metrics_module);

    key = mc->keys.elts;

    for (i = 0; i < mc->keys.nelts; i++) {
        if (key[i].len == name->len
            && ngx_strncmp(key[i].data, name->data, name->len) == 0)
        {
            *slot = i;
            return NGX_OK;
        }
    }

    key = ngx_array_push(&mc->keys);
    if (key == NULL) {
        return NGX_ERROR;
    }

    *key = *name;
    *slot = mc->keys.nelts - 1;

    return NGX_OK;
}


/*
 * Every label is known now: the layout, its hash, and the zone.  The zone
 * is sized for its layout, so that nginx keeps it across a reload whose
 * labels need as much room.
 */
static ngx_int_t
ngx_http_q2api_metrics_init(ngx_conf_t *cf)
{
    size_t                           size, bytes;
    uint32_t                         crc;
    ngx_str_t                        name, *key;
    ngx_uint_t                       i, n, o;
    const q2api_front_t            **f;
    const q2api_back_t             **b;
    ngx_http_q2api_provider_t      **p;
    ngx_http_q2api_metrics_conf_t   *mc;

    mc = ngx_http_conf_get_module_main_conf(cf,
                                            ngx_http_q2api_metrics_module);

    ngx_crc32_init(crc);

    for (f = q2api_fronts, n = 0; *f; f++, n++) {
        ngx_http_q2api_metrics_hash(&crc, (*f)->name);
    }

    mc->nfront = n;

    for (b = q2api_backs, n = 0; *b; b++, n++) {
        ngx_http_q2api_metrics_hash(&crc, (*b)->name);
    }

    mc->nback = n + 1;

    for (i = 0; i < mc->models.nelts; i++) {
        ngx_http_q2api_metrics_hash(&crc, ((char **) mc->models.elts)[i]);
    }

    mc->nmodel = mc->models.nelts + 2;

    key = mc->keys.elts;

    for (i = 0; i < mc->keys.nelts; i++) {
        ngx_crc32_update(&crc, key[i].data, key[i].len);
        ngx_crc32_update(&crc, (u_char *) "", 1);
    }

    mc->nkey = mc->keys.nelts + 1;

    for (p = ngx_http_q2api_providers, n = 0; *p; p++, n++) {
        ngx_http_q2api_metrics_hash(&crc, (*p)->name);
    }

    mc->nprov = n + 1;

    ngx_crc32_final(crc);
    mc->layout = crc;

    o = 0;
    mc->req = o;
    o += mc->nfront * mc->nback * mc->nmodel * NGX_HTTP_Q2API_M_OUTCOMES;
    mc->att = o;
    o += mc->nback * NGX_HTTP_Q2API_M_ATTEMPTS;
    mc->fov = o;
    o += mc->nback * NGX_HTTP_Q2API_M_ATTEMPTS;
    mc->ttfb = o;
    o += mc->nback * NGX_HTTP_Q2API_M_HIST;
    mc->dur = o;
    o += mc->nback * NGX_HTTP_Q2API_M_HIST;
    mc->tok = o;
    o += NGX_HTTP_Q2API_M_DIRECTIONS * mc->nback * mc->nmodel;
    mc->ref = o;
    o += mc->nprov * NGX_HTTP_Q2API_M_REFRESHES;
    mc->login = o;
    o += NGX_HTTP_Q2API_M_LOGINS;
    mc->donation = o;
    o += NGX_HTTP_Q2API_M_DONATIONS;
    mc->kreq = o;
    o += mc->nkey * NGX_HTTP_Q2API_M_OUTCOMES;
    mc->ktok = o;
    o += mc->nkey * NGX_HTTP_Q2API_M_DIRECTIONS;
    mc->ncounters = o;
    mc->ring = o;
    o += NGX_HTTP_Q2API_M_RING * NGX_HTTP_Q2API_M_SAMPLE;

    bytes = sizeof(ngx_http_q2api_metrics_sh_t) + o * sizeof(ngx_atomic_t);

    /* the slab pool's own header and page descriptors, and rounding */
    size = ngx_align(bytes, ngx_pagesize) + bytes / 64 + 8 * ngx_pagesize;

    ngx_str_set(&name, "q2api_metrics");

    mc->shm_zone = ngx_shared_memory_add(cf, &name, size,
                                         &ngx_http_q2api_metrics_module);
    if (mc->shm_zone == NULL) {
        return NGX_ERROR;
    }

    mc->shm_zone->init = ngx_http_q2api_metrics_init_zone;
    mc->shm_zone->data = mc;

    return NGX_OK;
}


static void
ngx_http_q2api_metrics_hash(uint32_t *crc, const char *s)
{
    /* with its NUL: "ab","c" and "a","bc" differ */
    ngx_crc32_update(crc, (u_char *) s, ngx_strlen(s) + 1);
}


static ngx_int_t
ngx_http_q2api_metrics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_q2api_metrics_conf_t  *omc = data;

    size_t                          bytes;
    ngx_slab_pool_t                *shpool;
    ngx_http_q2api_metrics_sh_t    *sh;
    ngx_http_q2api_metrics_conf_t  *mc;

    mc = shm_zone->data;
    bytes = (mc->ring + NGX_HTTP_Q2API_M_RING * NGX_HTTP_Q2API_M_SAMPLE)
            * sizeof(ngx_atomic_t);

    if (omc) {
        /* reload: the counters go on, unless their labels changed */
        sh = omc->sh;
        mc->sh = sh;

        if (sh->layout != mc->layout) {
            ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0,
                          "q2api metrics: the labels changed, counters "
                          "start again");
            ngx_memzero((void *) sh->c, bytes);
            sh->layout = mc->layout;
            sh->started = ngx_time();
            sh->ring_count = 0;
            sh->ring_next = 0;
        }

        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        mc->sh = shpool->data;
        return NGX_OK;
    }

    sh = ngx_slab_calloc(shpool, sizeof(ngx_http_q2api_metrics_sh_t) + bytes);
    if (sh == NULL) {
        return NGX_ERROR;
    }

    sh->layout = mc->layout;
    sh->started = ngx_time();

    shpool->data = sh;
    mc->sh = sh;

    return NGX_OK;
}


static ngx_int_t
ngx_http_q2api_metrics_init_process(ngx_cycle_t *cycle)
{
    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    return ngx_http_q2api_metrics_ring_init(cycle);
}


static char *
ngx_http_q2api_metrics_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_q2api_metrics_handler;

    return NGX_CONF_OK;
}


ngx_http_q2api_metrics_conf_t *
ngx_http_q2api_metrics_conf(void)
{
    ngx_http_q2api_metrics_conf_t  *mc;

    mc = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                             ngx_http_q2api_metrics_module);

    return (mc && mc->sh) ? mc : NULL;
}


const char *
ngx_http_q2api_metrics_front_name(ngx_uint_t i)
{
    return q2api_fronts[i]->name;
}


const char *
ngx_http_q2api_metrics_back_name(ngx_http_q2api_metrics_conf_t *mc,
    ngx_uint_t i)
{
    return i + 1 < mc->nback ? q2api_backs[i]->name : "none";
}


const char *
ngx_http_q2api_metrics_model_name(ngx_http_q2api_metrics_conf_t *mc,
    ngx_uint_t i)
{
    if (i < mc->models.nelts) {
        return ((char **) mc->models.elts)[i];
    }

    return i == mc->models.nelts ? "other" : "none";
}


ngx_str_t *
ngx_http_q2api_metrics_key_name(ngx_http_q2api_metrics_conf_t *mc,
    ngx_uint_t i)
{
    static ngx_str_t  none = ngx_string("none");

    return i < mc->keys.nelts ? &((ngx_str_t *) mc->keys.elts)[i] : &none;
}


const char *
ngx_http_q2api_metrics_provider_name(ngx_http_q2api_metrics_conf_t *mc,
    ngx_uint_t i)
{
    return i + 1 < mc->nprov ? ngx_http_q2api_providers[i]->name : "none";
}
