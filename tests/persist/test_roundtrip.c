/*
 * test_roundtrip.c - the same small maps round-trip through both formats
 * (the format-specific cases, every byte value and maximum lengths, are
 * in test_binary.c and test_text.c).
 */
#include "util.h"

#include <criterion/parameterized.h>

TestSuite(roundtrip, .init = pt_setup, .fini = pt_teardown,
	  .timeout = PT_TIMEOUT);

enum shape { EMPTY, ONE_ENTRY, HUNDRED_THOUSAND };

struct rt_case {
	enum shape shape;
	bool text;
};

ParameterizedTestParameters(roundtrip, maps)
{
	static struct rt_case cases[] = {
		{ EMPTY, false }, { ONE_ENTRY, false },
		{ HUNDRED_THOUSAND, false },
		{ EMPTY, true }, { ONE_ENTRY, true }, { HUNDRED_THOUSAND, true },
	};

	return cr_make_param_array(struct rt_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct rt_case *c, roundtrip, maps)
{
	static const size_t entries[] = {
		[EMPTY] = 0, [ONE_ENTRY] = 1, [HUNDRED_THOUSAND] = 100000,
	};
	struct snapmap *src = pt_map_new(NULL);

	if (c->shape == ONE_ENTRY)
		pt_put_str(src, "only", "one");
	else if (c->shape == HUNDRED_THOUSAND)
		pt_fill(src, 100000, 1);
	/* The map is the shape it claims before it goes through a file;
	 * pt_round_trip asserts the rest (one publish, same content). */
	cr_assert_eq(pt_count(src), entries[c->shape]);
	pt_round_trip(src, NULL, c->text);
	pt_map_destroy(src);
}
