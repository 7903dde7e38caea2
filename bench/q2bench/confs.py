"""The configs of the bench's two nginx instances.

upstream: the canned Amazon Q answers as static files, over HTTP fast and
  trickling (limit_rate), and over TLS with a self-signed certificate.
  POST, which the static handler refuses with 405, is answered with the
  file by "error_page 405 =200 $uri" (the redirect turns it into a GET).
gateway: the module's locations and plain proxy_pass relay locations on
  the same files, side by side in one server with one worker.  The module
  reaches the upstream through the shipped conf/q2api_upstream.conf; only
  the TLS locations have their own internal location, as the shipped one
  trusts the system's CAs and not the bench's certificate.
"""

import json
import os
import subprocess

TLS_NAME = "bench.q2api.test"

# The shipped location sends these to Amazon Q; the TLS one sends the same
# so that both build the same request.
AMAZONQ_HEADERS = """
        proxy_pass_request_headers off;
        proxy_set_header Connection "";
        proxy_set_header Accept-Encoding "";
        proxy_set_header Content-Type "application/x-amz-json-1.0";
        proxy_set_header X-Amz-Target
            "AmazonCodeWhispererStreamingService.GenerateAssistantResponse";
        proxy_set_header Authorization $q2api_authorization;
        proxy_set_header Amz-Sdk-Invocation-Id $q2api_invocation_id;
"""


def _user():
    # a master started by root would hand its workers to "nobody", who may
    # not write the store's directory
    return "user root;\n" if os.geteuid() == 0 else ""


def _main(prefix):
    return """%sworker_processes 1;
worker_rlimit_nofile 20000;
error_log logs/error.log warn;
pid logs/nginx.pid;

events {
    worker_connections 10000;
}
""" % _user()


def _temp_paths():
    return """
    client_body_temp_path tmp/client_body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;
"""


def make_certificate(directory):
    """A self-signed certificate for TLS_NAME, its own trust anchor."""
    crt = os.path.join(directory, "tls.crt")
    key = os.path.join(directory, "tls.key")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec",
         "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
         "-subj", "/CN=" + TLS_NAME,
         "-addext", "subjectAltName=DNS:" + TLS_NAME,
         "-keyout", key, "-out", crt],
        check=True, capture_output=True)
    return crt, key


def upstream(prefix, canned, ports, cert, rates):
    """The canned upstream.  rates: limit_rate of /slow-short/, /slow-long/."""
    locations = """
        error_page 405 =200 $uri;

        location /fast/ {
            alias %(canned)s/;
        }

        location /slow-short/ {
            alias %(canned)s/;
            limit_rate %(slow_short)s;
        }

        location /slow-long/ {
            alias %(canned)s/;
            limit_rate %(slow_long)s;
        }
""" % dict(canned=canned, slow_short=rates[0], slow_long=rates[1])

    return _main(prefix) + """
http {
    access_log off;
    default_type application/vnd.amazon.eventstream;
    keepalive_requests 1000000;
    log_format reuse '$connection $connection_requests $request_uri';
%(temp)s
    server {
        listen 127.0.0.1:%(http)d backlog=4096;
%(locations)s
    }

    server {
        listen 127.0.0.1:%(tls)d ssl backlog=4096;
        server_name %(name)s;

        ssl_certificate %(crt)s;
        ssl_certificate_key %(key)s;

        # which connection served which request: whether the gateway
        # reused its TLS connections
        access_log logs/access.log reuse;
%(locations)s
    }
}
""" % dict(temp=_temp_paths(), http=ports["upstream"], tls=ports["tls"],
           name=TLS_NAME, crt=cert[0], key=cert[1], locations=locations)


# (gateway location, upstream path): one q2api_pass location and one relay
# location per canned answer and speed
ROUTES = [
    ("fast", "/fast/short.es"),
    ("slow-short", "/slow-short/short.es"),
    ("slow-long", "/slow-long/long.es"),
]


def gateway(prefix, module, shipped_conf, ports, cert):
    up = "127.0.0.1:%d" % ports["upstream"]
    locations = []
    for name, path in ROUTES:
        locations.append("""
        location /gw/%(name)s/ {
            q2api_amazonq_url http://%(up)s%(path)s;
            q2api_pass claude;
        }

        location /relay/%(name)s/ {
            rewrite ^ %(path)s break;
            proxy_pass http://%(up)s;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }
""" % dict(name=name, up=up, path=path))

    return "load_module %s;\n" % module + _main(prefix) + """
http {
    access_log off;
%(temp)s
    q2api_zone q2api 16m;
    q2api_store file accounts.json;

    upstream bench_http {
        server 127.0.0.1:%(http)d;
        keepalive 32;
    }

    upstream bench_tls {
        server 127.0.0.1:%(tls)d;
        keepalive 32;
    }

    server {
        listen 127.0.0.1:%(port)d backlog=4096;
        keepalive_requests 1000000;

        # as conf/nginx.conf: a Claude Code turn is read into memory
        client_max_body_size 32m;
        client_body_buffer_size 1m;
%(locations)s
        # the relay read whole before it answers: the counterpart of
        # "stream": false
        location /relay/buffered/ {
            rewrite ^ /fast/short.es break;
            proxy_pass http://%(up)s;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }

        # both sides on the upstream{} block's keepalive connections
        location /gw/fast-keepalive/ {
            q2api_amazonq_url http://bench_http/fast/short.es;
            q2api_pass claude;
        }

        location /relay/fast-keepalive/ {
            rewrite ^ /fast/short.es break;
            proxy_pass http://bench_http;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }

        # a new TCP and TLS connection per attempt, as proxy_pass with a
        # URL does
        location /gw/tls-new/ {
            q2api_amazonq_url https://127.0.0.1:%(tls)d/fast/short.es;
            q2api_amazonq_location /_bench/tls;
            q2api_pass claude;
        }

        # the host names the upstream{} block: its keepalive connections
        location /gw/tls-keepalive/ {
            q2api_amazonq_url https://bench_tls/fast/short.es?reuse=1;
            q2api_amazonq_location /_bench/tls;
            q2api_pass claude;
        }

        location = /_bench/tls {
            internal;

            proxy_pass $q2api_upstream_url;
            proxy_method POST;
            proxy_http_version 1.1;
%(headers)s
            proxy_buffering off;

            proxy_ssl_server_name on;
            proxy_ssl_name %(name)s;
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate %(crt)s;
        }

        include %(shipped)s;
    }
}
""" % dict(temp=_temp_paths(), tls=ports["tls"], port=ports["gateway"],
           http=ports["upstream"],
           locations="".join(locations), up=up, headers=AMAZONQ_HEADERS,
           name=TLS_NAME, crt=cert[0], shipped=shipped_conf)


def accounts(prefix, n=4):
    """A few Amazon Q accounts whose tokens outlive the bench, so nothing
    refreshes; the file store keeps their counters."""
    rows = [{"id": "bench-%d" % i, "label": "bench",
             "accessToken": "bench-token-%d" % i,
             "token_expires": "2099-01-01T00:00:00Z",
             "enabled": True, "type": "amazonq"} for i in range(1, n + 1)]
    with open(os.path.join(prefix, "accounts.json"), "w") as f:
        json.dump({"accounts": rows}, f)
