/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The shared input checks: what each class takes, what it refuses (CR,
 * LF, NUL, other controls, lengths), and strict ARN parsing.
 */


#include "tap.h"
#include "q2api_check.h"


#define good(what, s, name)                                                \
    is_int(q2api_check(what, s, sizeof(s) - 1), Q2API_OK, name)

#define bad(what, s, name)                                                 \
    is_int(q2api_check(what, s, sizeof(s) - 1), Q2API_ERROR, name)


static void
test_token(void)
{
    char  big[Q2API_CHECK_TOKEN_MAX + 2];

    good(Q2API_CHECK_TOKEN, "aoaAAAAAGg.-_~+/=", "token: base64url and dots");
    good(Q2API_CHECK_TOKEN, "x", "token: one byte");
    bad(Q2API_CHECK_TOKEN, "", "token: empty");
    bad(Q2API_CHECK_TOKEN, "evil\r\nX-Injected: yes", "token: CR LF");
    bad(Q2API_CHECK_TOKEN, "a\nb", "token: LF");
    bad(Q2API_CHECK_TOKEN, "a\0b", "token: NUL inside");
    bad(Q2API_CHECK_TOKEN, "a b", "token: space");
    bad(Q2API_CHECK_TOKEN, "a\tb", "token: tab");
    bad(Q2API_CHECK_TOKEN, "a\x7f", "token: DEL");
    bad(Q2API_CHECK_TOKEN, "caf\xc3\xa9", "token: non-ASCII");

    memset(big, 'a', sizeof(big));

    is_int(q2api_check(Q2API_CHECK_TOKEN, big, Q2API_CHECK_TOKEN_MAX),
           Q2API_OK, "token: at the bound");
    is_int(q2api_check(Q2API_CHECK_TOKEN, big, Q2API_CHECK_TOKEN_MAX + 1),
           Q2API_ERROR, "token: one past the bound");
}


static void
test_id(void)
{
    char  big[Q2API_CHECK_ID_MAX + 1];

    good(Q2API_CHECK_ID, "acct-1_a.b~c:d@e", "id: every allowed sign");
    good(Q2API_CHECK_ID, "...", "id: three dots is a name");
    good(Q2API_CHECK_ID, ".a", "id: a leading dot");
    bad(Q2API_CHECK_ID, ".", "id: .");
    bad(Q2API_CHECK_ID, "..", "id: ..");
    bad(Q2API_CHECK_ID, "", "id: empty");
    bad(Q2API_CHECK_ID, "a/b", "id: slash");
    bad(Q2API_CHECK_ID, "a%2e", "id: percent");
    bad(Q2API_CHECK_ID, "a\r\nb", "id: CR LF");
    bad(Q2API_CHECK_ID, "a\0b", "id: NUL");
    bad(Q2API_CHECK_ID, "a b", "id: space");
    bad(Q2API_CHECK_ID, "a?b", "id: query");

    memset(big, 'a', sizeof(big));

    is_int(q2api_check(Q2API_CHECK_ID, big, Q2API_CHECK_ID_MAX), Q2API_OK,
           "id: at the bound");
    is_int(q2api_check(Q2API_CHECK_ID, big, Q2API_CHECK_ID_MAX + 1),
           Q2API_ERROR, "id: one past the bound");
}


static void
test_label(void)
{
    good(Q2API_CHECK_LABEL, "Team A, caf\xc3\xa9 \xe2\x9c\x93", "label: UTF-8");
    bad(Q2API_CHECK_LABEL, "a\r\nb", "label: CR LF");
    bad(Q2API_CHECK_LABEL, "a\0b", "label: NUL");
    bad(Q2API_CHECK_LABEL, "a\tb", "label: tab");
    bad(Q2API_CHECK_LABEL, "a\x7f", "label: DEL");
    bad(Q2API_CHECK_LABEL, "a\xc2\x85", "label: C1 NEL");
    bad(Q2API_CHECK_LABEL, "a\xff", "label: invalid UTF-8");
    good(Q2API_CHECK_LABEL, "\xc2\xa0", "label: no-break space");
}


static void
test_region(void)
{
    good(Q2API_CHECK_REGION, "us-east-1", "region: us-east-1");
    good(Q2API_CHECK_REGION, "eu-central-1", "region: eu-central-1");
    good(Q2API_CHECK_REGION, "us-gov-west-1", "region: two words");
    good(Q2API_CHECK_REGION, "ap-southeast-12", "region: two digits");
    bad(Q2API_CHECK_REGION, "evil.com/x#", "region: a host");
    bad(Q2API_CHECK_REGION, "us-east-1.evil.com", "region: a suffix");
    bad(Q2API_CHECK_REGION, "us-east", "region: no number");
    bad(Q2API_CHECK_REGION, "us-1", "region: no word");
    bad(Q2API_CHECK_REGION, "use-east-1", "region: three letters");
    bad(Q2API_CHECK_REGION, "US-EAST-1", "region: capitals");
    bad(Q2API_CHECK_REGION, "us--east-1", "region: double dash");
    bad(Q2API_CHECK_REGION, "us-east-1-", "region: trailing dash");
    bad(Q2API_CHECK_REGION, "us-east-", "region: dash, no number");
    bad(Q2API_CHECK_REGION, "us-east-1\r\n", "region: CR LF");
    bad(Q2API_CHECK_REGION, "us-east-1\0", "region: NUL");
    bad(Q2API_CHECK_REGION, "", "region: empty");
}


static void
test_project(void)
{
    good(Q2API_CHECK_PROJECT, "proud-quasar-abc12", "project: generated");
    good(Q2API_CHECK_PROJECT, "gen-lang-client-0194852792",
         "project: an AI Studio one");
    good(Q2API_CHECK_PROJECT, "example.com:proj-1", "project: domain-scoped");
    bad(Q2API_CHECK_PROJECT, "Proud-quasar", "project: capitals");
    bad(Q2API_CHECK_PROJECT, "1proj", "project: a digit first");
    bad(Q2API_CHECK_PROJECT, "proj-", "project: a trailing dash");
    bad(Q2API_CHECK_PROJECT, "proj/../x", "project: a path");
    bad(Q2API_CHECK_PROJECT, "proj x", "project: a space");
    bad(Q2API_CHECK_PROJECT, "proj\"}", "project: JSON");
    bad(Q2API_CHECK_PROJECT, "proj\r\n", "project: CR LF");
    bad(Q2API_CHECK_PROJECT, "proj\0", "project: NUL");
    bad(Q2API_CHECK_PROJECT, "", "project: empty");
}


static void
test_endpoint(void)
{
    good(Q2API_CHECK_ENDPOINT, "https://cloudcode-pa.googleapis.com",
         "endpoint: production");
    good(Q2API_CHECK_ENDPOINT,
         "https://daily-cloudcode-pa.sandbox.googleapis.com",
         "endpoint: amq2api's sandbox");
    good(Q2API_CHECK_ENDPOINT, "https://daily-cloudcode-pa.googleapis.com/",
         "endpoint: a trailing slash");
    bad(Q2API_CHECK_ENDPOINT, "http://cloudcode-pa.googleapis.com",
        "endpoint: plain http");
    bad(Q2API_CHECK_ENDPOINT, "https://cloudcode-pa.googleapis.com.evil.com",
        "endpoint: a suffix");
    bad(Q2API_CHECK_ENDPOINT, "https://evil.com/cloudcode-pa.googleapis.com",
        "endpoint: another host");
    bad(Q2API_CHECK_ENDPOINT, "https://cloudcode-pa.googleapis.com@evil.com",
        "endpoint: user info");
    bad(Q2API_CHECK_ENDPOINT, "https://cloudcode-pa.googleapis.com:8443",
        "endpoint: a port");
    bad(Q2API_CHECK_ENDPOINT, "https://cloudcode-pa.googleapis.com/x",
        "endpoint: a path");
    bad(Q2API_CHECK_ENDPOINT, "https://cloudcode-pa.googleapis.com\r\n",
        "endpoint: CR LF");
    bad(Q2API_CHECK_ENDPOINT, "https://", "endpoint: no host");
    bad(Q2API_CHECK_ENDPOINT, "", "endpoint: empty");
}


static void
test_arn(void)
{
    q2api_arn_t  arn;
    const char  *s;

    s = "arn:aws:codewhisperer:us-east-1:699475941385:profile/EHGA3GRVQMUK";

    is_int(q2api_arn_parse(s, strlen(s), &arn), Q2API_OK, "arn: a profile");
    is_mem(arn.partition.data, arn.partition.len, "aws", 3, "arn: partition");
    is_mem(arn.service.data, arn.service.len, "codewhisperer", 13,
           "arn: service");
    is_mem(arn.region.data, arn.region.len, "us-east-1", 9, "arn: region");
    is_mem(arn.account.data, arn.account.len, "699475941385", 12,
           "arn: account");
    is_mem(arn.resource.data, arn.resource.len, "profile/EHGA3GRVQMUK", 20,
           "arn: resource");

    s = "arn:aws-us-gov:codewhisperer:us-gov-west-1:123456789012:a:b/c";

    is_int(q2api_arn_parse(s, strlen(s), &arn), Q2API_OK,
           "arn: a GovCloud partition, a colon in the resource");
    is_mem(arn.resource.data, arn.resource.len, "a:b/c", 5,
           "arn: the resource keeps its colons");

    good(Q2API_CHECK_ARN,
         "arn:aws-cn:codewhisperer:cn-north-1:123456789012:profile/X",
         "arn: aws-cn");
    bad(Q2API_CHECK_ARN, "arn:aws:codewhisperer:evil.com/x#:1:profile/X",
        "arn: a host as region");
    bad(Q2API_CHECK_ARN,
        "arn:aws:codewhisperer:evil.com/x#:123456789012:profile/X",
        "arn: a host as region, good account");
    bad(Q2API_CHECK_ARN, "arn:aws:codewhisperer::123456789012:profile/X",
        "arn: no region");
    bad(Q2API_CHECK_ARN, "arn:aws:codewhisperer:us-east-1:1:profile/X",
        "arn: short account");
    bad(Q2API_CHECK_ARN,
        "arn:aws:codewhisperer:us-east-1:12345678901a:profile/X",
        "arn: account not digits");
    bad(Q2API_CHECK_ARN, "arn:aws:codewhisperer:us-east-1:123456789012:",
        "arn: no resource");
    bad(Q2API_CHECK_ARN, "arn:aws:codewhisperer:us-east-1:123456789012",
        "arn: five fields");
    bad(Q2API_CHECK_ARN,
        "arn:aws:codewhisperer:us-east-1:123456789012:profile/X\r\nA: b",
        "arn: CR LF in the resource");
    bad(Q2API_CHECK_ARN,
        "arn:aws:codewhisperer:us-east-1:123456789012:profile/X&a=b",
        "arn: & in the resource");
    bad(Q2API_CHECK_ARN,
        "arn:aws:codewhisperer:us-east-1:123456789012:pro\0file",
        "arn: NUL in the resource");
    bad(Q2API_CHECK_ARN, "arn:amazon:codewhisperer:us-east-1:123456789012:p",
        "arn: unknown partition");
    bad(Q2API_CHECK_ARN, "arn:aws-:codewhisperer:us-east-1:123456789012:p",
        "arn: partition ending in a dash");
    bad(Q2API_CHECK_ARN, "arn:awsx:codewhisperer:us-east-1:123456789012:p",
        "arn: partition glued to aws");
    bad(Q2API_CHECK_ARN, "arn:aws:Code:us-east-1:123456789012:p",
        "arn: service with capitals");
    bad(Q2API_CHECK_ARN, "arn:aws::us-east-1:123456789012:p",
        "arn: no service");
    bad(Q2API_CHECK_ARN, "arn:p", "arn: one field");
    bad(Q2API_CHECK_ARN, "ARN:aws:codewhisperer:us-east-1:123456789012:p",
        "arn: capital prefix");
    bad(Q2API_CHECK_ARN, "", "arn: empty");

    /* parsing reads only len bytes: a valid ARN cut short is refused */
    s = "arn:aws:codewhisperer:us-east-1:123456789012:p";
    is_int(q2api_arn_parse(s, 30, &arn), Q2API_ERROR, "arn: cut at len");
}


int
main(void)
{
    test_token();
    test_id();
    test_label();
    test_region();
    test_arn();
    test_project();
    test_endpoint();

    ok(strstr(q2api_check_rule(Q2API_CHECK_REGION), "region") != NULL,
       "a rule names what is expected");

    return done_testing();
}
