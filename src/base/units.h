/* Numbers with units, as people type them on a command line or in a request knob: plain decimals
 * ("50", "1.5") and durations ("250us", "50ms", "1.5s"; a bare number is ms). Strict: no sign,
 * exponent, hex, inf or nan, and nothing after the unit.
 *
 * Conventions: parsers take (s, len) slices, not NUL-terminated strings, and return 0, or -1 with a
 * message in err. */
#ifndef CRAWLBENCH_UNITS_H
#define CRAWLBENCH_UNITS_H

#include <stddef.h>
#include <stdint.h>

#define UNITS_MAX_DURATION_US (600u * 1000000u) /* ten minutes: anything longer is a typo */

/* A non-negative decimal at the start of s[0..len): *out gets its value, *used how many bytes it
 * took (the caller checks what follows: a unit, a '%'). -1 when there is no number or len > 63. */
int units_number(const char *s, size_t len, double *out, size_t *used);

/* A duration of at most UNITS_MAX_DURATION_US, rounded to the microsecond. */
int units_duration_parse(const char *s, size_t len, uint64_t *us, char *err, size_t errlen);

#endif
