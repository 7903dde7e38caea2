/*
 * Copyright (C) ngx_http_q2api_module authors
 */

#ifndef _Q2API_JWT_H_INCLUDED_
#define _Q2API_JWT_H_INCLUDED_


#include "q2api_core.h"


/*
 * The "exp" claim of a token shaped as a JWT (three base64url parts, a
 * JSON object in the middle), unverified: the gateway only wants to know
 * when a token it was given stops working, not whether to trust it.
 * Amazon Q's access tokens are opaque, but accounts imported from other
 * tools may carry JWTs and no expiry of their own.  Returns Q2API_OK and
 * sets *exp (seconds since the epoch), or Q2API_ERROR for anything that
 * is not a JWT with a positive numeric "exp".
 */
int q2api_jwt_exp(const char *token, size_t len, int64_t *exp);

/*
 * The claims of a token shaped as a JWT, unverified, as a cJSON object
 * the caller deletes (void *: this header does not need cJSON's); NULL for
 * anything else.  Google's id tokens come straight from its token
 * endpoint over TLS: their "sub" and "email" need no signature check.
 */
void *q2api_jwt_claims(const char *token, size_t len);


#endif /* _Q2API_JWT_H_INCLUDED_ */
