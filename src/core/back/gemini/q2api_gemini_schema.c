/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Tool schemas as Gemini's parametersJsonSchema takes them.  MCP servers
 * and SDKs send full JSON Schema; Gemini refuses or misreads parts of it,
 * so those parts are reduced to what it reads, keeping the types, and the
 * constraints it would drop become words in the description.
 */


#include <stdio.h>

#include "q2api_gemini.h"
#include "q2api_gemini_internal.h"


/* nesting and $ref expansion stop here: schemas are not programs */
#define Q2API_GEMINI_SCHEMA_DEPTH  24
#define Q2API_GEMINI_REF_DEPTH     8
#define Q2API_GEMINI_REF_MAX       64


/* keywords Gemini refuses or has no use for */
static const char  *q2api_gemini_drop[] = {
    "$schema", "$id", "$comment", "$anchor", "$defs", "definitions",
    "additionalProperties", "propertyNames", "patternProperties",
    "unevaluatedProperties", "unevaluatedItems", "additionalItems",
    "if", "then", "else", "not", "contains", "dependencies",
    "dependentRequired", "dependentSchemas", "minProperties",
    "maxProperties", "enumDescriptions", "enumTitles", "deprecated",
    "prefill", "encrypted", "title", "nullable", "readOnly", "writeOnly",
    "contentEncoding", "contentMediaType", "example", "examples", "strict",
    NULL
};

/* constraints it would ignore: said in the description instead */
static const char  *q2api_gemini_hint[] = {
    "minLength", "maxLength", "exclusiveMinimum", "exclusiveMaximum",
    "pattern", "minItems", "maxItems", "uniqueItems", "format", "default",
    NULL
};


typedef struct {
    const cJSON  *defs;
    int           refs;         /* $refs expanded on this path */
    int           inlined;      /* and in all: a definition that refers to
                                   itself twice doubles at each level */
} q2api_gemini_schema_ctx_t;


static int q2api_gemini_node(q2api_gemini_schema_ctx_t *ctx, cJSON *node,
    int depth);
static int q2api_gemini_ref(q2api_gemini_schema_ctx_t *ctx, cJSON *node);
static int q2api_gemini_all_of(cJSON *node, cJSON *all);
static int q2api_gemini_any_of(cJSON *node, cJSON *any, q2api_buf_t *hint);
static int q2api_gemini_take(cJSON *node, cJSON *from);
static int q2api_gemini_enum(cJSON *node);
static int q2api_gemini_required(cJSON *node);
static void q2api_gemini_hint_add(q2api_buf_t *hint, const cJSON *item);
static int q2api_gemini_describe(cJSON *node, q2api_buf_t *hint);
static int q2api_gemini_type_rank(const cJSON *branch);


int
q2api_gemini_clean_schema(const char *schema, size_t len, q2api_buf_t *out)
{
    int                        rc;
    char                      *s;
    cJSON                     *root, *defs;
    q2api_gemini_schema_ctx_t  ctx;

    root = cJSON_ParseWithLength(schema, len);

    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return Q2API_ERROR;
    }

    defs = cJSON_DetachItemFromObjectCaseSensitive(root, "$defs");
    if (defs == NULL) {
        defs = cJSON_DetachItemFromObjectCaseSensitive(root, "definitions");
    }

    ctx.defs = defs;
    ctx.refs = 0;
    ctx.inlined = 0;

    rc = q2api_gemini_node(&ctx, root, 0);

    /* a tool's parameters are an object, whatever the client wrote */
    if (rc == Q2API_OK && !cJSON_HasObjectItem(root, "type")) {
        rc = cJSON_AddStringToObject(root, "type", "object") ? Q2API_OK
                                                             : Q2API_NOMEM;
    }

    s = (rc == Q2API_OK) ? cJSON_PrintUnformatted(root) : NULL;

    if (rc == Q2API_OK) {
        rc = (s != NULL && q2api_buf_append_str(out, s) == Q2API_OK)
             ? Q2API_OK : Q2API_NOMEM;
    }

    cJSON_free(s);
    cJSON_Delete(root);
    cJSON_Delete(defs);

    return rc;
}


static int
q2api_gemini_node(q2api_gemini_schema_ctx_t *ctx, cJSON *node, int depth)
{
    int           rc, i, refs;
    cJSON        *item, *next, *t, *keep;
    q2api_buf_t   hint;

    if (!cJSON_IsObject(node) || depth > Q2API_GEMINI_SCHEMA_DEPTH) {
        return Q2API_OK;
    }

    q2api_buf_init(&hint, 4096);
    rc = Q2API_OK;
    refs = ctx->refs;

    /* an inlined definition may itself be a $ref */
    while (rc == Q2API_OK && cJSON_HasObjectItem(node, "$ref")) {
        rc = q2api_gemini_ref(ctx, node);
    }

    item = cJSON_DetachItemFromObjectCaseSensitive(node, "allOf");
    if (rc == Q2API_OK && item != NULL) {
        for (t = item->child; t != NULL && rc == Q2API_OK; t = t->next) {
            rc = q2api_gemini_node(ctx, t, depth + 1);
        }

        if (rc == Q2API_OK) {
            rc = q2api_gemini_all_of(node, item);
        }
    }

    cJSON_Delete(item);

    for (i = 0; i < 2 && rc == Q2API_OK; i++) {
        item = cJSON_DetachItemFromObjectCaseSensitive(node, i ? "oneOf"
                                                               : "anyOf");
        if (item == NULL) {
            continue;
        }

        for (t = item->child; t != NULL && rc == Q2API_OK; t = t->next) {
            rc = q2api_gemini_node(ctx, t, depth + 1);
        }

        if (rc == Q2API_OK) {
            rc = q2api_gemini_any_of(node, item, &hint);
        }

        cJSON_Delete(item);
    }

    /* ["string", "null"]: the first type that is not null */
    t = cJSON_GetObjectItemCaseSensitive(node, "type");
    if (rc == Q2API_OK && cJSON_IsArray(t)) {
        keep = NULL;

        cJSON_ArrayForEach(item, t) {
            if (cJSON_IsString(item) && strcmp(item->valuestring, "null")) {
                keep = item;
                break;
            }
        }

        rc = cJSON_ReplaceItemInObjectCaseSensitive(node, "type",
                 cJSON_CreateString(keep ? keep->valuestring : "string"))
             ? Q2API_OK : Q2API_NOMEM;
    }

    item = cJSON_DetachItemFromObjectCaseSensitive(node, "const");
    if (rc == Q2API_OK && item != NULL && !cJSON_HasObjectItem(node, "enum")) {
        t = cJSON_CreateArray();

        if (t == NULL || !cJSON_AddItemToArray(t, item)
            || !cJSON_AddItemToObject(node, "enum", t))
        {
            cJSON_Delete(t);
            rc = Q2API_NOMEM;
        }

        item = NULL;
    }

    cJSON_Delete(item);

    if (rc == Q2API_OK && cJSON_HasObjectItem(node, "enum")) {
        rc = q2api_gemini_enum(node);
    }

    /* keywords: dropped, or said in words */
    for (item = node->child; item != NULL && rc == Q2API_OK; item = next) {
        next = item->next;

        for (i = 0; q2api_gemini_hint[i] != NULL; i++) {
            if (strcmp(item->string, q2api_gemini_hint[i]) == 0) {
                break;
            }
        }

        if (q2api_gemini_hint[i] != NULL) {
            q2api_gemini_hint_add(&hint, item);
            cJSON_Delete(cJSON_DetachItemViaPointer(node, item));
            continue;
        }

        for (i = 0; q2api_gemini_drop[i] != NULL; i++) {
            if (strcmp(item->string, q2api_gemini_drop[i]) == 0) {
                break;
            }
        }

        if (q2api_gemini_drop[i] != NULL
            || strncmp(item->string, "x-", 2) == 0)
        {
            cJSON_Delete(cJSON_DetachItemViaPointer(node, item));
        }
    }

    /* property names are names, never keywords: only their values are
     * schemas */
    t = cJSON_GetObjectItemCaseSensitive(node, "properties");
    if (cJSON_IsObject(t)) {
        for (item = t->child; item != NULL && rc == Q2API_OK;
             item = item->next)
        {
            rc = q2api_gemini_node(ctx, item, depth + 1);
        }

        if (rc == Q2API_OK && !cJSON_HasObjectItem(node, "type")) {
            rc = cJSON_AddStringToObject(node, "type", "object")
                 ? Q2API_OK : Q2API_NOMEM;
        }

    } else if (t != NULL) {
        cJSON_Delete(cJSON_DetachItemViaPointer(node, t));
    }

    t = cJSON_GetObjectItemCaseSensitive(node, "items");
    if (cJSON_IsArray(t)) {
        /* tuple items: the first stands for all */
        item = cJSON_DetachItemFromArray(t, 0);
        cJSON_Delete(cJSON_DetachItemViaPointer(node, t));

        if (cJSON_IsObject(item)) {
            cJSON_AddItemToObject(node, "items", item);
        } else {
            cJSON_Delete(item);
        }

        t = cJSON_GetObjectItemCaseSensitive(node, "items");
    }

    if (rc == Q2API_OK && cJSON_IsObject(t)) {
        rc = q2api_gemini_node(ctx, t, depth + 1);
    }

    if (rc == Q2API_OK) {
        rc = q2api_gemini_required(node);
    }

    if (rc == Q2API_OK && hint.len) {
        rc = q2api_gemini_describe(node, &hint);
    }

    ctx->refs = refs;
    q2api_buf_free(&hint);

    return rc;
}


/* a local $ref is inlined; any other becomes a described object */
static int
q2api_gemini_ref(q2api_gemini_schema_ctx_t *ctx, cJSON *node)
{
    char          buf[256];
    cJSON        *ref, *def;
    const char   *name;

    ref = cJSON_DetachItemFromObjectCaseSensitive(node, "$ref");
    name = cJSON_IsString(ref) ? ref->valuestring : "";

    if (strncmp(name, "#/$defs/", 8) == 0) {
        name += 8;

    } else if (strncmp(name, "#/definitions/", 14) == 0) {
        name += 14;
    }

    def = cJSON_GetObjectItemCaseSensitive(ctx->defs, name);

    if (cJSON_IsObject(def) && ctx->refs < Q2API_GEMINI_REF_DEPTH
        && ctx->inlined < Q2API_GEMINI_REF_MAX)
    {
        ctx->refs++;
        ctx->inlined++;
        def = cJSON_Duplicate(def, 1);
        cJSON_Delete(ref);

        if (def == NULL) {
            return Q2API_NOMEM;
        }

        return q2api_gemini_take(node, def);
    }

    /* unknown, remote or too deep: an object named in words */
    snprintf(buf, sizeof(buf), "See: %.200s", name);
    cJSON_Delete(ref);

    if (!cJSON_HasObjectItem(node, "type")
        && cJSON_AddStringToObject(node, "type", "object") == NULL)
    {
        return Q2API_NOMEM;
    }

    if (!cJSON_HasObjectItem(node, "description")
        && cJSON_AddStringToObject(node, "description", buf) == NULL)
    {
        return Q2API_NOMEM;
    }

    return Q2API_OK;
}


/* the members of from that node lacks move into it; from is freed */
static int
q2api_gemini_take(cJSON *node, cJSON *from)
{
    cJSON  *item;

    while (from->child != NULL) {
        item = cJSON_DetachItemViaPointer(from, from->child);

        if (cJSON_HasObjectItem(node, item->string)) {
            cJSON_Delete(item);
            continue;
        }

        cJSON_AddItemToObject(node, item->string, item);
    }

    cJSON_Delete(from);

    return Q2API_OK;
}


/* allOf: one object with every branch's properties and required names */
static int
q2api_gemini_all_of(cJSON *node, cJSON *all)
{
    int     i;
    cJSON  *b, *from, *dst, *item;

    while (all->child != NULL) {
        b = cJSON_DetachItemViaPointer(all, all->child);

        if (!cJSON_IsObject(b)) {
            cJSON_Delete(b);
            continue;
        }

        for (i = 0; i < 2; i++) {
            from = cJSON_DetachItemFromObjectCaseSensitive(b, i ? "required"
                                                                : "properties");
            if (from == NULL) {
                continue;
            }

            dst = cJSON_GetObjectItemCaseSensitive(node, from->string);

            if (dst == NULL) {
                cJSON_AddItemToObject(node, from->string, from);
                continue;
            }

            while (from->child != NULL && cJSON_IsArray(dst) == i
                   && cJSON_IsArray(from) == i)
            {
                item = cJSON_DetachItemViaPointer(from, from->child);

                if (i == 0 && cJSON_HasObjectItem(dst, item->string)) {
                    cJSON_Delete(item);
                    continue;
                }

                if (i == 0) {
                    cJSON_AddItemToObject(dst, item->string, item);

                } else {
                    cJSON_AddItemToArray(dst, item);
                }
            }

            cJSON_Delete(from);
        }

        /* the rest of the branch (type, description) where node has none */
        q2api_gemini_take(node, b);
    }

    return Q2API_OK;
}


/* anyOf / oneOf: the richest branch stands for the node, the others are
 * named in the description */
static int
q2api_gemini_any_of(cJSON *node, cJSON *any, q2api_buf_t *hint)
{
    int           rank, best_rank, n;
    cJSON        *b, *best, *t;

    best = NULL;
    best_rank = -1;
    n = 0;

    for (b = any->child; b != NULL; b = b->next) {
        rank = q2api_gemini_type_rank(b);

        if (rank > best_rank) {
            best = b;
            best_rank = rank;
        }

        t = cJSON_GetObjectItemCaseSensitive(b, "type");

        if (cJSON_IsString(t)
            && q2api_buf_append_str(hint, n++ ? " | " : "Accepts: ")
               == Q2API_OK)
        {
            (void) q2api_buf_append_str(hint, t->valuestring);
        }
    }

    if (best == NULL || best_rank == 0) {
        return Q2API_OK;
    }

    best = cJSON_DetachItemViaPointer(any, best);

    return q2api_gemini_take(node, best);
}


/* object > array > another type > null (0: nothing usable) */
static int
q2api_gemini_type_rank(const cJSON *branch)
{
    const cJSON  *t;

    if (!cJSON_IsObject(branch)) {
        return 0;
    }

    t = cJSON_GetObjectItemCaseSensitive(branch, "type");

    if (!cJSON_IsString(t)) {
        return cJSON_HasObjectItem(branch, "properties") ? 4 : 2;
    }

    if (strcmp(t->valuestring, "object") == 0) {
        return 4;
    }

    if (strcmp(t->valuestring, "array") == 0) {
        return 3;
    }

    if (strcmp(t->valuestring, "null") == 0) {
        return 1;
    }

    return 2;
}


/* enum values as strings, the node a string */
static int
q2api_gemini_enum(cJSON *node)
{
    char   *v;
    cJSON  *e, *item, *s;

    e = cJSON_GetObjectItemCaseSensitive(node, "enum");

    if (!cJSON_IsArray(e)) {
        cJSON_Delete(cJSON_DetachItemViaPointer(node, e));
        return Q2API_OK;
    }

    for (item = e->child; item != NULL; item = item->next) {
        if (cJSON_IsString(item)) {
            continue;
        }

        v = cJSON_IsNull(item) ? NULL : cJSON_PrintUnformatted(item);
        s = cJSON_CreateString(v ? v : "null");
        cJSON_free(v);

        if (s == NULL || !cJSON_ReplaceItemViaPointer(e, item, s)) {
            cJSON_Delete(s);
            return Q2API_NOMEM;
        }

        item = s;
    }

    if (cJSON_HasObjectItem(node, "type")) {
        return cJSON_ReplaceItemInObjectCaseSensitive(node, "type",
                   cJSON_CreateString("string")) ? Q2API_OK : Q2API_NOMEM;
    }

    return cJSON_AddStringToObject(node, "type", "string") ? Q2API_OK
                                                           : Q2API_NOMEM;
}


/* required names a property that exists, or goes */
static int
q2api_gemini_required(cJSON *node)
{
    cJSON  *req, *props, *item, *next;

    req = cJSON_GetObjectItemCaseSensitive(node, "required");
    if (req == NULL) {
        return Q2API_OK;
    }

    props = cJSON_GetObjectItemCaseSensitive(node, "properties");

    if (cJSON_IsArray(req)) {
        for (item = req->child; item != NULL; item = next) {
            next = item->next;

            if (!cJSON_IsString(item)
                || !cJSON_HasObjectItem(props, item->valuestring))
            {
                cJSON_Delete(cJSON_DetachItemViaPointer(req, item));
            }
        }
    }

    if (!cJSON_IsArray(req) || req->child == NULL) {
        /* MCP servers send "required": true; Gemini wants names */
        cJSON_Delete(cJSON_DetachItemViaPointer(node, req));
    }

    return Q2API_OK;
}


/* "key: value" onto the hint; past the hint's cap the rest goes unsaid */
static void
q2api_gemini_hint_add(q2api_buf_t *hint, const cJSON *item)
{
    char  *v;

    v = cJSON_PrintUnformatted(item);

    if (v != NULL
        && (hint->len == 0 || q2api_buf_append_str(hint, "; ") == Q2API_OK)
        && q2api_buf_append_str(hint, item->string) == Q2API_OK
        && q2api_buf_append_str(hint, ": ") == Q2API_OK)
    {
        (void) q2api_buf_append_str(hint, v);
    }

    cJSON_free(v);
}


static int
q2api_gemini_describe(cJSON *node, q2api_buf_t *hint)
{
    cJSON        *d, *s;
    q2api_buf_t   text;
    int           rc;

    q2api_buf_init(&text, 0);

    d = cJSON_GetObjectItemCaseSensitive(node, "description");

    if (cJSON_IsString(d) && d->valuestring[0]) {
        rc = (q2api_buf_append_str(&text, d->valuestring) == Q2API_OK
              && q2api_buf_append_str(&text, " (") == Q2API_OK
              && q2api_buf_append(&text, hint->data, hint->len) == Q2API_OK
              && q2api_buf_append(&text, ")", 2) == Q2API_OK)
             ? Q2API_OK : Q2API_NOMEM;

    } else {
        rc = (q2api_buf_append(&text, hint->data, hint->len) == Q2API_OK
              && q2api_buf_append_byte(&text, '\0') == Q2API_OK)
             ? Q2API_OK : Q2API_NOMEM;
    }

    if (rc == Q2API_OK) {
        s = cJSON_CreateString((char *) text.data);

        if (s == NULL) {
            rc = Q2API_NOMEM;

        } else if (d != NULL) {
            cJSON_ReplaceItemInObjectCaseSensitive(node, "description", s);

        } else {
            cJSON_AddItemToObject(node, "description", s);
        }
    }

    q2api_buf_free(&text);

    return rc;
}
