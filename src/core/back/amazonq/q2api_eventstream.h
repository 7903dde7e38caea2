/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The AWS binary event-stream framing (application/vnd.amazon.eventstream)
 * that the upstream uses for its streamed responses: an incremental decoder
 * that takes the body in whatever pieces the network delivers, and an encoder
 * for the tests, the fuzzer seeds and the mock upstream.
 *
 * A message on the wire, all integers big-endian:
 *
 *     uint32  total_length        whole message, these 4 bytes and CRC too
 *     uint32  headers_length
 *     uint32  prelude_crc         CRC-32 of the 8 bytes above
 *     bytes   headers[headers_length]
 *     bytes   payload[total_length - headers_length - 16]
 *     uint32  message_crc         CRC-32 of everything before it
 *
 * and a header is "uint8 name_len, name, uint8 type, value".
 */

#ifndef _Q2API_EVENTSTREAM_H_INCLUDED_
#define _Q2API_EVENTSTREAM_H_INCLUDED_


#include "q2api_core.h"
#include "q2api_buf.h"


#define Q2API_ES_PRELUDE_LEN      12
#define Q2API_ES_MIN_MESSAGE      16
#define Q2API_ES_MAX_HEADERS      (128 * 1024)
#define Q2API_ES_MAX_MESSAGE      (16 * 1024 * 1024)

/* error codes, all < 0 and distinct from Q2API_ERROR/AGAIN/NOMEM */
#define Q2API_ES_EPRELUDE_CRC    -10
#define Q2API_ES_EMESSAGE_CRC    -11
#define Q2API_ES_ELENGTH         -12   /* total < 16 or headers > total - 16 */
#define Q2API_ES_ETOO_BIG        -13   /* total > 16 MiB or headers > 128 KiB */
#define Q2API_ES_EHEADER         -14   /* malformed header section */
#define Q2API_ES_ETRUNCATED      -15   /* stream ended inside a message */


typedef enum {
    Q2API_ES_TRUE = 0,
    Q2API_ES_FALSE,
    Q2API_ES_BYTE,
    Q2API_ES_SHORT,
    Q2API_ES_INT,
    Q2API_ES_LONG,
    Q2API_ES_BYTES,
    Q2API_ES_STRING,
    Q2API_ES_TIMESTAMP,
    Q2API_ES_UUID
} q2api_es_type_e;


typedef struct {
    q2api_str_t   name;
    uint8_t       type;
    /* TRUE/FALSE (1/0), BYTE, SHORT, INT, LONG, TIMESTAMP */
    int64_t       integer;
    /* BYTES, STRING, UUID (16 raw bytes) */
    q2api_str_t   bytes;
} q2api_es_header_t;


typedef struct {
    const unsigned char  *headers;       /* validated header section */
    size_t                headers_len;
    const unsigned char  *payload;
    size_t                payload_len;
    uint32_t              total_len;
} q2api_es_message_t;


typedef struct {
    q2api_buf_t   carry;        /* partial message only */
    int           error;        /* sticky: once failed, every call returns it */

    uint32_t      total;        /* of the current message, 0: prelude unread */
    uint32_t      headers_len;
    unsigned      delivered:1;  /* carry holds a message already returned */
} q2api_es_decoder_t;


/* CRC-32 as zlib's crc32(0, p, len), the one the framing uses */
uint32_t q2api_es_crc32(const unsigned char *p, size_t len);

void q2api_es_decoder_init(q2api_es_decoder_t *d);
void q2api_es_decoder_free(q2api_es_decoder_t *d);

/*
 * Feed input.  Returns
 *   Q2API_OK     one complete validated message in *msg; *consumed is how
 *                many bytes of "in" were used (the caller calls again with
 *                in + *consumed, len - *consumed);
 *   Q2API_AGAIN  all of "in" was consumed (*consumed == len) and stored,
 *                more input is needed;
 *   < 0          a Q2API_ES_E* error or Q2API_NOMEM: the stream is corrupt;
 *                the error is sticky and *consumed is 0.
 * The pointers in *msg stay valid until the next call on this decoder (they
 * point into "in" when the whole message was there and nothing was carried:
 * zero copy; else into the carry buffer).  len == 0 is allowed.
 */
int q2api_es_decode(q2api_es_decoder_t *d, const unsigned char *in,
    size_t len, size_t *consumed, q2api_es_message_t *msg);

/*
 * End of input: Q2API_OK at a message boundary, else Q2API_ES_ETRUNCATED
 * (or the sticky error).
 */
int q2api_es_finish(q2api_es_decoder_t *d);

/* bytes of a partial message currently held */
size_t q2api_es_buffered(const q2api_es_decoder_t *d);

/*
 * Header iteration over a decoded message: *pos starts at 0; returns 1 with
 * *h filled, 0 at the end, Q2API_ES_EHEADER on a malformed section (decode
 * has validated it, but a message may come from elsewhere).
 */
int q2api_es_next_header(const q2api_es_message_t *m, size_t *pos,
    q2api_es_header_t *h);

/*
 * Value of the first header called "name": Q2API_OK and *value set when it
 * is a string, Q2API_ERROR when absent or not a string.
 */
int q2api_es_header_string(const q2api_es_message_t *m, const char *name,
    q2api_str_t *value);

/* e.g. "bad prelude CRC" */
const char *q2api_es_strerror(int rc);

/*
 * Appends one whole message to "out", which is left unchanged on failure.
 * Returns Q2API_OK, Q2API_NOMEM, Q2API_ES_ETOO_BIG (a name over 255 bytes,
 * a value over 65535, the headers or the message over their limits) or
 * Q2API_ES_EHEADER (an empty name, an unknown type, a UUID not 16 bytes).
 */
int q2api_es_encode(q2api_buf_t *out, const q2api_es_header_t *headers,
    size_t nheaders, const void *payload, size_t payload_len);

/*
 * A chat event: :event-type = <event_type>,
 * :content-type = application/json, :message-type = event.
 */
int q2api_es_encode_event(q2api_buf_t *out, const char *event_type,
    const void *payload, size_t payload_len);

/*
 * A modelled exception: :exception-type = <exception_type>,
 * :content-type = application/json, :message-type = exception.
 */
int q2api_es_encode_exception(q2api_buf_t *out, const char *exception_type,
    const void *payload, size_t payload_len);


#endif /* _Q2API_EVENTSTREAM_H_INCLUDED_ */
