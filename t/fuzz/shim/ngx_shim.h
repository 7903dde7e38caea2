/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * For fuzzers of glue files (t/fuzz/shim/ngx_shim.c): what stands in for
 * nginx's log.
 */

#ifndef _NGX_SHIM_H_INCLUDED_
#define _NGX_SHIM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* a log at debug level: every ngx_log_error() is formatted and checked */
ngx_log_t *ngx_shim_log(void);


#endif /* _NGX_SHIM_H_INCLUDED_ */
