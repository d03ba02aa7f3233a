/* plot: a minimal SVG line chart for floe bench (no plotting dependency for
 * one kind of picture).  Series share the x axis; each series may use the
 * left or the right y axis. */
#ifndef FLOE_CLI_PLOT_H
#define FLOE_CLI_PLOT_H

#include <stdbool.h>

struct plot_series {
	const char *name;
	const double *y; /* n values; NaN = missing */
	bool right_axis;
};

struct plot {
	const char *title, *x_label, *y_label, *y2_label;
	const double *x;
	int n;
	const struct plot_series *series;
	int n_series;
};

/* Write the chart to path; false (and a message on stderr) on failure. */
bool plot_write_svg(const struct plot *p, const char *path);

#endif
