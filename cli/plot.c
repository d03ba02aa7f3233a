/* plot: SVG line charts, axes with ~5 round ticks, a legend. */
#include "plot.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define W 720
#define H 420
#define ML 70
#define MR 70
#define MT 40
#define MB 50

static const char *const colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
				     "#17becf", "#7f7f7f"};

static void range(const double *v, int n, double *lo, double *hi)
{
	*lo = INFINITY;
	*hi = -INFINITY;
	for (int i = 0; i < n; i++)
		if (!isnan(v[i])) {
			*lo = fmin(*lo, v[i]);
			*hi = fmax(*hi, v[i]);
		}
	if (!isfinite(*lo)) {
		*lo = 0;
		*hi = 1;
	}
}

/* Round axis: from 0 (or lo if negative) to a "nice" number above hi. */
static double nice_step(double span)
{
	double mag = pow(10, floor(log10(span / 5))), r = span / 5 / mag;
	return mag * (r < 1.5 ? 1 : r < 3.5 ? 2 : r < 7.5 ? 5 : 10);
}

static void axis(double lo, double hi, double *a0, double *a1, double *step)
{
	if (lo > 0)
		lo = 0;
	if (hi <= lo)
		hi = lo + 1;
	*step = nice_step(hi - lo);
	*a0 = floor(lo / *step) * *step;
	*a1 = ceil(hi / *step) * *step;
}

bool plot_write_svg(const struct plot *p, const char *path)
{
	double x0, x1, xs, y0 = INFINITY, y1 = -INFINITY, r0 = INFINITY, r1 = -INFINITY, ys, rs, lo, hi;
	bool has_right = false;
	FILE *f = fopen(path, "w");

	if (!f) {
		fprintf(stderr, "floe: cannot write %s: %s\n", path, strerror(errno));
		return false;
	}
	range(p->x, p->n, &lo, &hi);
	axis(lo, hi, &x0, &x1, &xs);
	for (int s = 0; s < p->n_series; s++) {
		range(p->series[s].y, p->n, &lo, &hi);
		if (p->series[s].right_axis) {
			has_right = true;
			r0 = fmin(r0, lo);
			r1 = fmax(r1, hi);
		} else {
			y0 = fmin(y0, lo);
			y1 = fmax(y1, hi);
		}
	}
	if (!isfinite(y0)) {
		y0 = 0;
		y1 = 1;
	}
	axis(y0, y1, &y0, &y1, &ys);
	if (has_right)
		axis(r0, r1, &r0, &r1, &rs);
	else {
		r0 = 0;
		r1 = 1;
		rs = 1;
	}
#define PX(x) (ML + ((x) - x0) / (x1 - x0) * (W - ML - MR))
#define PY(y, a0, a1) (H - MB - ((y) - (a0)) / ((a1) - (a0)) * (H - MT - MB))
	fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' font-family='sans-serif' "
		   "font-size='12'>\n<rect width='100%%' height='100%%' fill='white'/>\n", W, H);
	fprintf(f, "<text x='%d' y='22' text-anchor='middle' font-size='15'>%s</text>\n", W / 2, p->title);
	for (double x = x0; x <= x1 + xs / 2; x += xs)
		fprintf(f, "<line x1='%.1f' y1='%d' x2='%.1f' y2='%d' stroke='#ddd'/><text x='%.1f' y='%d' "
			   "text-anchor='middle'>%g</text>\n", PX(x), MT, PX(x), H - MB, PX(x), H - MB + 16, x);
	for (double y = y0; y <= y1 + ys / 2; y += ys)
		fprintf(f, "<line x1='%d' y1='%.1f' x2='%d' y2='%.1f' stroke='#ddd'/><text x='%d' y='%.1f' "
			   "text-anchor='end'>%g</text>\n", ML, PY(y, y0, y1), W - MR, PY(y, y0, y1), ML - 6,
			PY(y, y0, y1) + 4, y);
	if (has_right)
		for (double y = r0; y <= r1 + rs / 2; y += rs)
			fprintf(f, "<text x='%d' y='%.1f'>%g</text>\n", W - MR + 6, PY(y, r0, r1) + 4, y);
	fprintf(f, "<rect x='%d' y='%d' width='%d' height='%d' fill='none' stroke='black'/>\n", ML, MT,
		W - ML - MR, H - MT - MB);
	fprintf(f, "<text x='%d' y='%d' text-anchor='middle'>%s</text>\n", W / 2, H - 12, p->x_label);
	fprintf(f, "<text transform='translate(16,%d) rotate(-90)' text-anchor='middle'>%s</text>\n", H / 2,
		p->y_label);
	if (has_right && p->y2_label)
		fprintf(f, "<text transform='translate(%d,%d) rotate(90)' text-anchor='middle'>%s</text>\n", W - 14,
			H / 2, p->y2_label);
	for (int s = 0; s < p->n_series; s++) {
		const struct plot_series *se = &p->series[s];
		const char *c = colors[s % 8];
		double a0 = se->right_axis ? r0 : y0, a1 = se->right_axis ? r1 : y1;
		fprintf(f, "<polyline fill='none' stroke='%s' stroke-width='2'%s points='", c,
			se->right_axis ? " stroke-dasharray='6,3'" : "");
		for (int i = 0; i < p->n; i++)
			if (!isnan(se->y[i]))
				fprintf(f, "%.1f,%.1f ", PX(p->x[i]), PY(se->y[i], a0, a1));
		fprintf(f, "'/>\n");
		for (int i = 0; i < p->n; i++)
			if (!isnan(se->y[i]))
				fprintf(f, "<circle cx='%.1f' cy='%.1f' r='3' fill='%s'/>\n", PX(p->x[i]),
					PY(se->y[i], a0, a1), c);
		fprintf(f, "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='%s' stroke-width='2'/><text x='%d' "
			   "y='%d'>%s%s</text>\n", ML + 10, MT + 14 + 16 * s, ML + 30, MT + 14 + 16 * s, c, ML + 36,
			MT + 18 + 16 * s, se->name, se->right_axis ? " (right axis)" : "");
	}
#undef PX
#undef PY
	fprintf(f, "</svg>\n");
	if (fclose(f) != 0) {
		fprintf(stderr, "floe: cannot write %s: %s\n", path, strerror(errno));
		return false;
	}
	return true;
}
