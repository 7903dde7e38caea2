/*
 * Copyright (C) ngx_http_q2api_module authors
 */

#ifndef _Q2API_MODELS_H_INCLUDED_
#define _Q2API_MODELS_H_INCLUDED_


#include "q2api_core.h"


/*
 * One model as clients see it (/v1/models) and the backend id it runs on.
 * Client names are matched after normalisation, so "claude-sonnet-4-5",
 * "claude-sonnet-4.5", "claude-sonnet-4-5-20250929", "Claude-Sonnet-4-5"
 * and "claude-sonnet-4-5-thinking" are one model.
 */
typedef struct {
    const char  *id;          /* listed id, e.g. "claude-sonnet-4-5" */
    const char  *upstream;    /* backend modelId, e.g. "claude-sonnet-4.5" */
    const char  *display;     /* "Claude Sonnet 4.5" */
    const char  *created;     /* RFC 3339 */
    const char  *back;        /* the back end that serves it; NULL: by
                                 its name (q2api_model_back) */
} q2api_model_t;


/* NULL-terminated (id == NULL) */
extern const q2api_model_t  q2api_builtin_models[];


/*
 * Lower-cases, drops a "-thinking" suffix (setting *thinking), a date
 * suffix (-YYYYMMDD) and "-latest", turns "4.5" into "4-5", and expands the
 * family aliases "sonnet", "opus" and "haiku" and the Claude 3 names to
 * their current model.  Writes a NUL-terminated name into out; returns its
 * length, or 0 if it does not fit.
 */
size_t q2api_model_normalize(const char *name, size_t len, char *out,
    size_t size, int *thinking);

/* the built-in model whose normalised id is "name", or NULL */
const q2api_model_t *q2api_model_builtin(const char *name);

/*
 * The back end a model name belongs to when nothing says otherwise:
 * "gemini-*" names are Google's models, served by Gemini accounts;
 * everything else (Claude) by Amazon Q / Kiro accounts.
 */
const char *q2api_model_back(const char *name, size_t len);


#endif /* _Q2API_MODELS_H_INCLUDED_ */
