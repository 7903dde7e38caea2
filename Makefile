# ngx_http_q2api_module — build, test and run on Debian 12.
#
#   make            build build/ngx_http_q2api_module.so against Debian's nginx
#   make run        install what is missing, build, serve on 127.0.0.1:8080
#   make test       install what is missing, build, run every test suite
#   make fuzz       run the libFuzzer targets for FUZZ_SECONDS each
#   make bench      the gateway against a proxy_pass relay (numbers, no gate)
#   make valgrind   a representative set of suites with nginx under memcheck
#
# Packages come from apt only; "make deps" installs what is missing.

NGX_SRC      ?= /usr/share/nginx/src
NGINX        ?= /usr/sbin/nginx
BUILD        := $(CURDIR)/build
MODULE       := $(BUILD)/ngx_http_q2api_module.so
RUNDIR       := $(CURDIR)/.run
FUZZ_SECONDS ?= 60
PROVE_JOBS   ?= 2

CC           ?= cc
CORE_DIRS    := $(shell find src/core -type d | sort)
CORE_SRCS    := $(shell find src/core -name '*.c' | sort)
CORE_HDRS    := $(shell find src/core -name '*.h' | sort)
CORE_INCS    := $(addprefix -I,$(CORE_DIRS))
SRC_DIRS     := $(shell find src -type d | sort)
GLUE_SRCS    := ngx_http_q2api_module.c \
                $(shell find src -path src/core -prune -o \
                        \( -name '*.c' -o -name '*.h' \) -print)
UNIT_SRCS    := $(wildcard t/unit/test_*.c)
UNIT_BINS    := $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))
FUZZ_SRCS    := $(wildcard t/fuzz/fuzz_*.c)
FUZZ_BINS    := $(patsubst t/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))

# nginx's own module flags already carry -Wall -Werror; the core, built alone
# for the unit tests, is held to at least the same.
CORE_CFLAGS  := -std=gnu99 -g -O1 -Wall -Wextra -Wno-unused-parameter \
                -Werror $(CORE_INCS)
CORE_LIBS    := -lcjson -lcrypto -lz

DEB_PKGS     := nginx nginx-dev libcjson-dev libpq-dev libssl-dev \
                build-essential clang libclang-rt-14-dev postgresql \
                perl libtest-base-perl libtext-diff-perl libipc-run-perl \
                libhttp-message-perl libtest-longstring-perl \
                liblist-moreutils-perl liburi-perl curl ca-certificates \
                nodejs npm openssl chromium prometheus

SHELL        := /bin/bash

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all build deps test unit integration fuzz fuzz-smoke run stop \
        install clean bench bench-core bench-deps e2e-deps browser-deps \
        browser bench-console valgrind

all: build

build: $(MODULE)

# nodejs and npm count as present when their commands are (NodeSource's
# nodejs package ships npm and conflicts with Debian's).
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	    case $$p in nodejs) c=node;; npm) c=npm;; *) c=;; esac; \
	    [ -n "$$c" ] && command -v $$c >/dev/null && continue; \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null \
	        | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
	        --no-install-recommends $$missing; \
	fi

# Debian's own recipe (debhelper's nginx_mod build system): configure from
# the read-only nginx-dev tree with the packaged binary's flags, writing only
# under --builddir, then "make modules".  A file added to or removed from a
# folder under src/ changes the folder, which runs configure again (config
# lists what is there).
$(BUILD)/Makefile: config $(SRC_DIRS)
	@mkdir -p $(BUILD)
	cd $(NGX_SRC) && . ./conf_flags && ./configure \
	    --with-cc-opt="$$(dpkg-buildflags --get CFLAGS) -fPIC $$(dpkg-buildflags --get CPPFLAGS)" \
	    --with-ld-opt="$$(dpkg-buildflags --get LDFLAGS) -fPIC" \
	    "$${NGX_CONF_FLAGS[@]}" \
	    --add-dynamic-module=$(CURDIR) --builddir=$(BUILD) > $(BUILD)/configure.log \
	    || { cat $(BUILD)/configure.log; exit 1; }

$(MODULE): $(BUILD)/Makefile $(CORE_SRCS) $(CORE_HDRS) $(GLUE_SRCS)
	$(MAKE) -f $(BUILD)/Makefile -C $(NGX_SRC) modules
	@test -f $(MODULE)

# --- unit tests of the pure core (TAP, run by prove) -----------------------

$(BUILD)/unit/%: t/unit/%.c $(wildcard t/unit/*.h) $(CORE_SRCS) $(CORE_HDRS)
	@mkdir -p $(BUILD)/unit
	$(CC) $(CORE_CFLAGS) -It/unit -o $@ $< $(CORE_SRCS) $(CORE_LIBS)

unit: $(UNIT_BINS)
	prove -e '' $(UNIT_BINS)

# --- Test::Nginx suites against Debian's nginx with the built module -------

integration: $(MODULE)
	TEST_NGINX_BINARY=$(NGINX) \
	TEST_NGINX_LOAD_MODULES=$(MODULE) \
	TEST_NGINX_SERVROOT=$(BUILD)/servroot TEST_NGINX_PER_FILE=1 \
	prove -I t/lib -I t/mock/lib -j$(PROVE_JOBS) -r t/

test: deps build unit fuzz-smoke e2e-deps browser-deps integration

# npm packages of a node test folder ($(1)), installed from its
# package-lock.json when that is newer than the last install
# (node_modules/.package-lock.json, npm's record of it); without npm, the
# suite that needs them ($(2)) skips.
npm_ci = if [ ! -e $(1)/node_modules/.package-lock.json ] \
	    || [ $(1)/package-lock.json -nt $(1)/node_modules/.package-lock.json ]; then \
	    if command -v npm >/dev/null; then \
	        npm ci --prefix $(1) --no-audit --no-fund; \
	    else \
	        echo "npm is not installed; $(2) will skip"; \
	    fi; \
	fi

# the end-to-end suite's SDKs and Claude Code
e2e-deps:
	@$(call npm_ci,t/e2e,t/e2e-clients.t)

# playwright-core for the console's browser tests (t/browser/console.t,
# part of "integration"; under CI=true it fails instead of skipping when
# chromium or these are missing)
browser-deps:
	@$(call npm_ci,t/browser,t/browser/console.t)

# the browser tests alone; screenshots in build/browser-artifacts/
browser: $(MODULE) browser-deps
	TEST_NGINX_BINARY=$(NGINX) TEST_NGINX_LOAD_MODULES=$(MODULE) \
	prove -I t/lib -I t/mock/lib t/browser/console.t

# --- valgrind ------------------------------------------------------------------

# Suites that between them walk every layer: both front ends (streams,
# refusals), the Amazon Q stream and its failures, the pool, the admin API.
VALGRIND_SUITES ?= front-claude-messages front-claude-validation \
                   back-amazonq-stream back-amazonq-errors accounts-pool \
                   admin-accounts front-openai-chat
# The harness runs nginx in the foreground under these options, one server
# per block (t/lib/Test/Nginx/Util.pm); every process writes its own XML
# report, which t/valgrind-check.pl judges.  --keep-debuginfo: nginx
# unloads the module at exit, before the leak check names its frames.
VALGRIND_OPTS := --tool=memcheck --leak-check=full \
                 --show-leak-kinds=definite --errors-for-leak-kinds=definite \
                 --keep-debuginfo=yes --num-callers=40 \
                 --suppressions=$(CURDIR)/t/valgrind.supp \
                 --xml=yes --xml-file=$(BUILD)/valgrind/%p.xml

# Not part of "make test" (9 to 12 minutes, README "Tests"): fails on
# any memcheck error, or a definitely lost block with a frame of the
# module.  A suite that fails only under valgrind's slowness (a store
# write that has not landed yet) is named, not a verdict on memory.
valgrind: $(MODULE)
	@rm -rf $(BUILD)/valgrind && mkdir -p $(BUILD)/valgrind
	@start=$$(date +%s); \
	TEST_NGINX_USE_VALGRIND="$(VALGRIND_OPTS)" TEST_NGINX_TIMEOUT=30 \
	TEST_NGINX_BINARY=$(NGINX) TEST_NGINX_LOAD_MODULES=$(MODULE) \
	TEST_NGINX_SERVROOT=$(BUILD)/servroot-valgrind TEST_NGINX_PER_FILE=1 \
	prove -I t/lib -I t/mock/lib -j$(PROVE_JOBS) \
	    $(addprefix t/,$(addsuffix .t,$(VALGRIND_SUITES))); \
	[ $$? = 0 ] || echo "make valgrind: some suites failed under" \
	    "valgrind (above); memcheck's verdict follows"; \
	perl t/valgrind-check.pl $(BUILD)/valgrind; checked=$$?; \
	echo "make valgrind took $$(( $$(date +%s) - start )) s"; \
	[ $$checked = 0 ]

# --- fuzzing -----------------------------------------------------------------

FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined \
               -fno-sanitize-recover=undefined $(CORE_INCS)

$(BUILD)/fuzz/%: t/fuzz/%.c $(wildcard t/unit/*.h) $(CORE_SRCS) $(CORE_HDRS)
	@mkdir -p $(BUILD)/fuzz
	clang $(FUZZ_CFLAGS) -It/unit -o $@ $< $(CORE_SRCS) $(CORE_LIBS)

# Fuzzers of glue files: the nginx headers (and configure's), the glue
# sources a fuzzer names in FUZZ_GLUE_<name>, and t/fuzz/shim for the few
# nginx calls they make.  What the fuzzer never reaches is dropped with
# its references (--gc-sections): those nginx calls need no shim.
FUZZ_NGX_INCS := -I$(BUILD) -It/fuzz/shim -I/usr/include/postgresql \
                 $(addprefix -I$(NGX_SRC)/src/,core event event/modules \
                                               os/unix http http/modules \
                                               http/v2) \
                 $(addprefix -I,$(SRC_DIRS))
FUZZ_GLUE_fuzz_account_row := src/store/ngx_http_q2api_store_file.c \
                 src/store/ngx_http_q2api_row.c \
                 src/store/ngx_http_q2api_seal.c \
                 src/accounts/ngx_http_q2api_kind.c \
                 src/accounts/ngx_http_q2api_accounts_health.c
FUZZ_GLUE_fuzz_admin_import := src/admin/ngx_http_q2api_admin_import.c \
                 src/admin/ngx_http_q2api_admin_input.c \
                 src/admin/ngx_http_q2api_admin_kiro.c \
                 src/admin/ngx_http_q2api_admin_json.c \
                 src/store/ngx_http_q2api_row.c \
                 src/accounts/ngx_http_q2api_kind.c \
                 src/accounts/ngx_http_q2api_accounts_health.c
FUZZ_GLUE_fuzz_admin_list := src/admin/ngx_http_q2api_admin_list.c \
                 src/admin/ngx_http_q2api_admin_input.c \
                 src/admin/ngx_http_q2api_admin_json.c \
                 src/store/ngx_http_q2api_row.c \
                 src/accounts/ngx_http_q2api_kind.c \
                 src/accounts/ngx_http_q2api_accounts_health.c
FUZZ_GLUE    := fuzz_account_row fuzz_admin_import fuzz_admin_list

$(addprefix $(BUILD)/fuzz/,$(FUZZ_GLUE)): $(BUILD)/fuzz/%: t/fuzz/%.c \
        t/fuzz/shim/ngx_shim.c t/fuzz/shim/ngx_shim.h $(BUILD)/Makefile Makefile \
        $(CORE_SRCS) $(CORE_HDRS) $(GLUE_SRCS)
	@mkdir -p $(BUILD)/fuzz
	clang $(FUZZ_CFLAGS) $(FUZZ_NGX_INCS) -fno-pie -no-pie -ffunction-sections \
	    -fdata-sections -Wl,--gc-sections,--unresolved-symbols=ignore-all -o $@ $< t/fuzz/shim/ngx_shim.c \
	    $(FUZZ_GLUE_$*) $(CORE_SRCS) $(CORE_LIBS)

fuzz: $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do \
	    n=$$(basename $$f); mkdir -p $(BUILD)/corpus/$$n; \
	    echo "fuzzing $$n for $(FUZZ_SECONDS)s"; \
	    $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	        -artifact_prefix=$(BUILD)/fuzz/$$n- \
	        $(BUILD)/corpus/$$n t/fuzz/corpus/$$n || exit 1; \
	done

# A short bounded run inside "make test": a regression in the decoder's
# bounds checks shows up in seconds.
fuzz-smoke:
	$(MAKE) fuzz FUZZ_SECONDS=15

# --- benchmarks (numbers, never a gate) -----------------------------------

# The load generator and the bench's own tools; not needed by "make test".
BENCH_PKGS   := nginx wrk openssl python3 perl

# The gateway against a plain proxy_pass relay on one canned upstream, side
# by side (bench/bench.py, ~4 minutes; BENCH_QUICK=1 for a ~1 minute
# smoke), then the protocol core alone.  The table also goes to
# build/bench/table.md.
bench: deps bench-deps $(MODULE) $(BUILD)/bench_core
	BENCH_NGINX=$(NGINX) BENCH_MODULE=$(MODULE) python3 bench/bench.py

# the protocol core alone, without nginx
bench-core: $(BUILD)/bench_core
	$(BUILD)/bench_core

bench-deps:
	@$(MAKE) --no-print-directory deps DEB_PKGS="$(BENCH_PKGS)"

# how long the console takes to show a page of 10,000 accounts
bench-console: $(MODULE) browser-deps
	TEST_NGINX_BINARY=$(NGINX) TEST_NGINX_LOAD_MODULES=$(MODULE) \
	perl -I t/mock/lib bench/console-render.pl

$(BUILD)/bench_core: bench/bench_core.c $(CORE_SRCS) $(CORE_HDRS)
	@mkdir -p $(BUILD)
	$(CC) -std=gnu99 -O2 $(CORE_INCS) -o $@ $< $(CORE_SRCS) $(CORE_LIBS)

# --- running the gateway -----------------------------------------------------

run: deps build
	@mkdir -p $(RUNDIR)/logs $(RUNDIR)/conf $(RUNDIR)/q2api
	@ln -sfn $(BUILD) $(RUNDIR)/modules
	@ln -sfn $(CURDIR)/html $(RUNDIR)/html
	@cp -f conf/*.conf $(RUNDIR)/conf/
	@# upstream{} names resolve at start: offline, run without reuse
	@getent hosts q.us-east-1.amazonaws.com >/dev/null || { \
	    echo "no DNS for the backends: connection reuse is off" \
	         "(q2api_backends.conf not included)"; \
	    sed -i 's/^\( *\)include q2api_backends.conf;/\1# &/' \
	        $(RUNDIR)/conf/nginx.conf; }
	@$(MAKE) -s $(RUNDIR)/conf/q2api_admin_password.conf
	@[ -f $(RUNDIR)/q2api/accounts.json ] \
	    || cp conf/accounts.example.json $(RUNDIR)/q2api/accounts.json
	@# started by root, the workers are "nobody": the store writes here
	@[ "$$(id -u)" != 0 ] || chown -R nobody:nogroup $(RUNDIR)/q2api
	$(NGINX) -p $(RUNDIR)/ -c conf/nginx.conf -t
	@echo "q2api gateway on http://127.0.0.1:8080, console at http://127.0.0.1:8080/ (Ctrl-C stops it)"
	$(NGINX) -p $(RUNDIR)/ -c conf/nginx.conf -g 'daemon off;'

# The first run's admin password: drawn once, shown once; only its SHA-256
# digest is kept (delete the file for a new password).
$(RUNDIR)/conf/q2api_admin_password.conf:
	@mkdir -p $(RUNDIR)/conf
	@set -e; umask 077; \
	pw=$$(openssl rand -base64 32 | tr -dc 'A-Za-z0-9' | cut -c1-20); \
	digest=$$(printf %s "$$pw" | openssl dgst -sha256 -binary | base64); \
	printf '# written by "make run": the admin password'"'"'s digest\nq2api_admin_password "{SHA256}%s";\n' \
	    "$$digest" > $@.tmp; \
	mv $@.tmp $@; \
	echo "================================================================"; \
	echo " First run: the console's admin password is  $$pw"; \
	echo " It is shown this once; only its digest is kept, in"; \
	echo " $@ (delete that file for a new one)."; \
	echo "================================================================"

install: build
	install -m 0644 $(MODULE) /usr/lib/nginx/modules/
	install -d /etc/nginx/q2api
	install -m 0644 conf/q2api_upstream.conf conf/q2api_console.conf \
	    conf/q2api_backends.conf conf/q2api_donate.conf \
	    /etc/nginx/q2api/
	install -m 0755 tools/q2api-gemini-login /usr/bin/
	install -d /usr/share/q2api/html/js
	install -m 0644 html/*.html html/*.css html/*.svg /usr/share/q2api/html/
	install -m 0644 html/js/*.js /usr/share/q2api/html/js/

clean:
	rm -rf $(BUILD) $(RUNDIR) t/servroot
