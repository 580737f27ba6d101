/* libFuzzer target for the command-line and per-request spec parsers: durations, latency
 * distributions, fault plans and rate limits. These reach the server from a URL's query string, so they are
 * untrusted input. Beyond "no crash", it checks that a parsed spec formats to a canonical text that
 * parses again to the same plan. */
#include "server/fault.h"
#include "server/ratelimit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *s = (const char *)data;
    char err[256], text[512];
    uint64_t us;
    fault_latency_t lat;
    fault_plan_t plan = {0}, again = {0};

    (void)units_duration_parse(s, size, &us, err, sizeof(err));
    if (fault_latency_parse(s, size, &lat, err, sizeof(err)) == 0) {
        fault_latency_format(&lat, text, sizeof(text));
        for (uint32_t i = 0; i < 8; i++)
            if (fault_delay(&lat, 42, i, i) > FAULT_MAX_LATENCY_US) abort();
    }
    if (fault_plan_parse(s, size, &plan, err, sizeof(err)) == 0) {
        fault_plan_format(&plan, text, sizeof(text));
        if (fault_plan_parse(text, strlen(text), &again, err, sizeof(err)) != 0) abort();
        if (memcmp(plan.ppm, again.ppm, sizeof(plan.ppm)) != 0) abort();
        for (uint32_t i = 0; i < 8; i++)
            if (fault_decide(&plan, 1, i, i) >= FAULT_KINDS) abort();
    }
    fault_kind_t k;
    (void)fault_kind_parse(s, size, &k);
    double rate;
    uint32_t burst;
    if (ratelimit_parse(s, size, &rate, &burst, err, sizeof(err)) == 0 && (!(rate > 0) || burst < 1)) abort();
    return 0;
}
