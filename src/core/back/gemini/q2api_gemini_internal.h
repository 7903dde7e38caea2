/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * What the files of the Gemini back end share, and nothing outside it
 * needs.
 */

#ifndef _Q2API_GEMINI_INTERNAL_H_INCLUDED_
#define _Q2API_GEMINI_INTERNAL_H_INCLUDED_


#include <cjson/cJSON.h>

#include "q2api_gemini.h"


/* string literals only: "" lit does not compile for a pointer */
#define q2api_gemini_put(b, lit)  q2api_buf_append(b, "" lit, sizeof(lit) - 1)


/* the tools part of the request: "tools" and "toolConfig", each led by a
 * comma, or nothing */
int q2api_gemini_tools(const q2api_request_t *req, q2api_buf_t *out);

/* ,"generationConfig":{...} for the model's family, or a client error */
int q2api_gemini_generation(const q2api_request_t *req,
    const q2api_gemini_opts_t *opts, q2api_buf_t *out, q2api_error_t *err);

/* 1 if the model checks thought signatures on function calls (Gemini 3) */
int q2api_gemini_model_signs(const q2api_str_t *model);


/*
 * The error object of a Google RPC error (the value of "error"), with the
 * HTTP status it came with (0: inside a stream, its code is used).
 */
void q2api_gemini_error_object(int status, const cJSON *error,
    q2api_upstream_error_t *ue);

/* a Google duration ("13h19m1.2s", "900ms", "34.07s") in whole seconds,
 * rounded up; -1 if s is not one */
long long q2api_gemini_duration(const char *s, size_t len);


#endif /* _Q2API_GEMINI_INTERNAL_H_INCLUDED_ */
