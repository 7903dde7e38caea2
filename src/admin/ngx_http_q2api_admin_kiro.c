/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Kiro IDE credential files (kiro-auth-token.json and its client
 * registration) as accounts to import.
 */


#include "ngx_http_q2api_admin.h"
#include "q2api_json.h"
#include "q2api_time.h"


#define ngx_http_q2api_admin_has(o, key)                                   \
    (cJSON_GetObjectItemCaseSensitive(o, key) != NULL)


/*
 * The Kiro IDE's kiro-auth-token.json (~/.aws/sso/cache), told from
 * q2api's rows by keys rows never have: authMethod, clientIdHash, the
 * client registration given with it, or a refreshToken with a provider.
 */
ngx_uint_t
ngx_http_q2api_admin_kiro_shape(cJSON *obj)
{
    return cJSON_IsObject(obj)
           && (ngx_http_q2api_admin_has(obj, "authMethod")
               || ngx_http_q2api_admin_has(obj, "clientIdHash")
               || ngx_http_q2api_admin_has(obj, "clientRegistration")
               || (ngx_http_q2api_admin_has(obj, "refreshToken")
                   && ngx_http_q2api_admin_has(obj, "provider")));
}


/*
 * A Kiro expiresAt: ISO 8601 as the IDE writes it
 * ("2026-05-18T09:41:48.944Z", also with microseconds and an offset such
 * as "+00:00"), or epoch milliseconds (account managers' exports; a
 * number too small for milliseconds is taken as seconds).
 */
static ngx_int_t
ngx_http_q2api_admin_kiro_time(cJSON *v, time_t *t)
{
    double  x;

    if (cJSON_IsNumber(v)) {
        x = v->valuedouble;

        if (x >= 1e11) {
            x /= 1000;
        }

        if (x <= 0 || x >= 253402300800.0) {
            return NGX_ERROR;
        }

        *t = (time_t) x;
        return NGX_OK;
    }

    if (!cJSON_IsString(v)
        || q2api_time_parse(v->valuestring, ngx_strlen(v->valuestring), t)
           != Q2API_OK)
    {
        return NGX_ERROR;
    }

    return *t > 0 ? NGX_OK : NGX_ERROR;
}


/*
 * One Kiro IDE login into "in", as the import of a row of type kiro:
 * social (Google, GitHub; refreshed at Kiro's auth service) without a
 * client; IdC (Builder ID, Identity Center; refreshed at the OIDC service)
 * with the client registration the IDE keeps in
 * ~/.aws/sso/cache/<clientIdHash>.json, given as "clientRegistration" (or
 * as clientId and clientSecret beside the token, as kiro.rs keeps them).
 * The strings of "in" point into *tree, which the caller deletes.
 */
ngx_int_t
ngx_http_q2api_admin_kiro_input(ngx_http_request_t *r, cJSON *file,
    ngx_http_q2api_admin_input_t *in, cJSON **tree, u_char *err)
{
    u_char                        label[80], *p, *hash;
    cJSON                        *row, *other, *reg, *client, *creds, *v;
    size_t                        n;
    time_t                        t;
    ngx_int_t                     rc;
    ngx_uint_t                    idc, i;
    const char                   *prefix;
    ngx_http_q2api_admin_input_t  cin;

    static char  *copied[] = { "id", "label", "enabled", "accessToken",
                               "refreshToken", "profileArn", NULL };
    static char  *noted[] = { "provider", "region", "clientIdHash", "email",
                              "startUrl", NULL };

    *tree = NULL;

    reg = cJSON_GetObjectItemCaseSensitive(file, "clientRegistration");

    if (cJSON_IsNull(reg)) {
        reg = NULL;
    }

    /* an explicit authMethod wins; else a client (or a hash naming one),
     * or an AWS provider, says IdC */
    v = cJSON_GetObjectItemCaseSensitive(file, "authMethod");

    if (cJSON_IsString(v)) {
        p = (u_char *) v->valuestring;

        if (ngx_strcasecmp(p, (u_char *) "social") == 0) {
            idc = 0;

        } else if (ngx_strcasecmp(p, (u_char *) "IdC") == 0
                   || ngx_strcasecmp(p, (u_char *) "builder-id") == 0
                   || ngx_strcasecmp(p, (u_char *) "iam") == 0)
        {
            idc = 1;

        } else if (ngx_strcasecmp(p, (u_char *) "external_idp") == 0) {
            ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                         "authMethod: external_idp logins (Entra ID, "
                         "Okta) are not supported%Z");
            return NGX_DECLINED;

        } else {
            goto method_expected;
        }

    } else if (v != NULL && !cJSON_IsNull(v)) {
        goto method_expected;

    } else {
        v = cJSON_GetObjectItemCaseSensitive(file, "provider");

        idc = reg != NULL
              || ngx_http_q2api_admin_has(file, "clientId")
              || ngx_http_q2api_admin_has(file, "clientIdHash")
              || (cJSON_IsString(v)
                  && (ngx_strcmp(v->valuestring, "BuilderId") == 0
                      || ngx_strcmp(v->valuestring, "Enterprise") == 0
                      || ngx_strcmp(v->valuestring, "Internal") == 0));
    }

    v = cJSON_GetObjectItemCaseSensitive(file, "refreshToken");

    if (v == NULL || cJSON_IsNull(v)
        || (cJSON_IsString(v) && v->valuestring[0] == '\0'))
    {
        ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                     "refreshToken: required; without it a Kiro login "
                     "stops working when its access token expires%Z");
        return NGX_DECLINED;
    }

    row = cJSON_CreateObject();
    if (row == NULL) {
        return NGX_ERROR;
    }

    *tree = row;

    for (i = 0; copied[i]; i++) {
        v = cJSON_GetObjectItemCaseSensitive(file, copied[i]);

        if (v == NULL || cJSON_IsNull(v)) {
            continue;
        }

        v = cJSON_Duplicate(v, 1);

        if (v == NULL || !cJSON_AddItemToObject(row, copied[i], v)) {
            cJSON_Delete(v);
            return NGX_ERROR;
        }
    }

    v = cJSON_GetObjectItemCaseSensitive(file, "expiresAt");

    if (v != NULL && !cJSON_IsNull(v)) {
        if (ngx_http_q2api_admin_kiro_time(v, &t) != NGX_OK) {
            ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                         "expiresAt: expected an ISO 8601 time such as "
                         "2026-05-18T09:41:48.944Z, or epoch "
                         "milliseconds%Z");
            return NGX_DECLINED;
        }

        if (cJSON_AddNumberToObject(row, "expires_at", (double) t) == NULL) {
            return NGX_ERROR;
        }
    }

    if (!ngx_http_q2api_admin_has(row, "label")) {
        /* "kiro Google", "kiro BuilderId" */
        v = cJSON_GetObjectItemCaseSensitive(file, "provider");

        p = ngx_snprintf(label, sizeof(label) - 1, "kiro %s",
                         (cJSON_IsString(v) && v->valuestring[0])
                         ? v->valuestring : (idc ? "IdC" : "social"));

        n = q2api_utf8_complete_prefix((char *) label, p - label);
        label[n] = '\0';

        if (cJSON_AddStringToObject(row, "label", (char *) label) == NULL) {
            return NGX_ERROR;
        }
    }

    /* where it came from, and what the IDE knew about it */
    other = cJSON_AddObjectToObject(row, "other");

    if (other == NULL
        || cJSON_AddStringToObject(other, "source", "kiro-ide") == NULL
        || cJSON_AddStringToObject(other, "authMethod",
                                   idc ? "IdC" : "social") == NULL)
    {
        return NGX_ERROR;
    }

    for (i = 0; noted[i]; i++) {
        v = cJSON_GetObjectItemCaseSensitive(file, noted[i]);

        if (cJSON_IsString(v) && ngx_strlen(v->valuestring) <= 256
            && cJSON_AddStringToObject(other, noted[i], v->valuestring)
               == NULL)
        {
            return NGX_ERROR;
        }
    }

    rc = ngx_http_q2api_admin_input(r, row, NGX_HTTP_Q2API_INPUT_IMPORT, in,
                                    "", err);
    if (rc != NGX_OK) {
        return rc;
    }

    in->d.type = NGX_HTTP_Q2API_ACCOUNT_KIRO;
    in->set |= NGX_HTTP_Q2API_F_TYPE;

    if (!idc) {
        /* Kiro's auth service refreshes it: no client, even over an
         * account that had one, or the refresh would go to OIDC */
        ngx_str_null(&in->d.client_id);
        ngx_str_null(&in->d.client_secret);
        in->set |= NGX_HTTP_Q2API_F_CLIENT_ID|NGX_HTTP_Q2API_F_CLIENT_SECRET;

        return NGX_OK;
    }

    if (reg != NULL) {
        if (!cJSON_IsObject(reg)) {
            ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                         "clientRegistration: expected the JSON object of "
                         "the client registration file%Z");
            return NGX_DECLINED;
        }

        client = reg;
        prefix = "clientRegistration.";

    } else if (ngx_http_q2api_admin_has(file, "clientId")
               || ngx_http_q2api_admin_has(file, "clientSecret"))
    {
        client = file;
        prefix = "";

    } else {
        /* the file's name, when the hash looks like one */
        v = cJSON_GetObjectItemCaseSensitive(file, "clientIdHash");
        hash = (u_char *) "<clientIdHash>";

        if (cJSON_IsString(v) && ngx_strlen(v->valuestring) <= 64
            && ngx_strlen(v->valuestring) > 0)
        {
            hash = (u_char *) v->valuestring;

            for (p = hash; *p; p++) {
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')
                      || (*p >= 'A' && *p <= 'F')))
                {
                    hash = (u_char *) "<clientIdHash>";
                    break;
                }
            }
        }

        ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                     "clientRegistration: missing; an IdC login is "
                     "refreshed with its client registration, "
                     "~/.aws/sso/cache/%s.json: give it as "
                     "\"clientRegistration\": {\"clientId\","
                     "\"clientSecret\",\"expiresAt\"}%Z", hash);
        return NGX_DECLINED;
    }

    /* the client's fields through the row checks, named as given */
    creds = cJSON_CreateObject();

    if (creds == NULL || !cJSON_AddItemToObject(row, "client", creds)) {
        cJSON_Delete(creds);
        return NGX_ERROR;
    }

    for (i = 0; i < 2; i++) {
        v = cJSON_GetObjectItemCaseSensitive(client,
                                             i ? "clientSecret" : "clientId");

        if (v == NULL) {
            continue;
        }

        v = cJSON_Duplicate(v, 1);

        if (v == NULL
            || !cJSON_AddItemToObject(creds, i ? "clientSecret" : "clientId",
                                      v))
        {
            cJSON_Delete(v);
            return NGX_ERROR;
        }
    }

    rc = ngx_http_q2api_admin_input(r, creds, NGX_HTTP_Q2API_INPUT_IMPORT,
                                    &cin, prefix, err);
    if (rc != NGX_OK) {
        return rc;
    }

    if (cin.d.client_id.len == 0 || cin.d.client_secret.len == 0) {
        ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                     "%s%s: required for an IdC login%Z", prefix,
                     cin.d.client_id.len ? "clientSecret" : "clientId");
        return NGX_DECLINED;
    }

    /* the token file's own expiresAt is the token's, not the client's */
    v = (client == reg) ? cJSON_GetObjectItemCaseSensitive(reg, "expiresAt")
                        : NULL;

    if (v != NULL && !cJSON_IsNull(v)) {
        if (ngx_http_q2api_admin_kiro_time(v, &t) != NGX_OK) {
            ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                         "clientRegistration.expiresAt: expected an "
                         "ISO 8601 time%Z");
            return NGX_DECLINED;
        }

        if (t <= ngx_time()) {
            /* the service would answer invalid_client at once */
            ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                         "clientRegistration.expiresAt: the client "
                         "registration has expired; sign in to Kiro "
                         "again and import the new files%Z");
            return NGX_DECLINED;
        }
    }

    in->d.client_id = cin.d.client_id;
    in->d.client_secret = cin.d.client_secret;
    in->set |= NGX_HTTP_Q2API_F_CLIENT_ID|NGX_HTTP_Q2API_F_CLIENT_SECRET;

    return NGX_OK;

method_expected:

    ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                 "authMethod: expected \"social\" or \"IdC\"%Z");
    return NGX_DECLINED;
}
