// Element-wise and reduction kernels of hesscope's GPU evaluator, float32
// (suffix _f32) and float64 (_f64). They mirror the CPU primitives of
// package autodiff: the same formulas, the same tie rules, sums in a fixed
// order (no atomics), so every result is deterministic.
//
// Compiled to PTX for compute_90 by gen.py (NVRTC); the PTX is committed as
// kernels.ptx and embedded in the Go package. Conventions: sizes are int,
// tensors NCHW, outputs written (y) or accumulated (…_add, bars); a null
// pointer is a zero tangent or a cotangent nobody needs.

#define GRID_LOOP(i, n) for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += blockDim.x * gridDim.x)

// Reductions use blocks of exactly RED_THREADS threads (the host emulation
// of the tests, emu.h, runs one thread per block).
#ifndef RED_THREADS
#define RED_THREADS 256
#endif

template <typename T>
__device__ void relu_mask(int n, const T *x, const T *v, T *y) {
	GRID_LOOP(i, n) { y[i] = x[i] > T(0) ? v[i] : T(0); }
}

template <typename T>
__device__ void relu_mask_add(int n, const T *x, const T *v, T *y) {
	GRID_LOOP(i, n) {
		if (x[i] > T(0)) y[i] += v[i];
	}
}

template <typename T>
__device__ void add2(int n, const T *a, const T *b, T *y) {
	GRID_LOOP(i, n) { y[i] = a[i] + b[i]; }
}

template <typename T>
__device__ void acc(int n, const T *src, T *dst) {
	GRID_LOOP(i, n) { dst[i] += src[i]; }
}

// bias_add: y[i] += b[(i / hw) % c] over a tensor [N, C, HW] of n elements.
template <typename T>
__device__ void bias_add(int n, int c, int hw, const T *b, T *y) {
	GRID_LOOP(i, n) { y[i] += b[(i / hw) % c]; }
}

// block_sum reduces one double per thread of a block of RED_THREADS in a
// fixed tree order; thread 0 gets the result.
__device__ double block_sum(double v, double *sh) {
	sh[threadIdx.x] = v;
	__syncthreads();
	for (int s = RED_THREADS / 2; s > 0; s >>= 1) {
		if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
		__syncthreads();
	}
	double r = sh[0];
	__syncthreads();
	return r;
}

// Channel reductions sum, for every channel c of a tensor [N, C, HW], its
// N·HW values in two steps so that small channel counts still fill the GPU:
// block b of the first step sums part q = b mod s of channel b / s (a fixed
// slice of ⌈N·HW/s⌉ values) into part[b]; the second step adds a channel's
// s parts in order. The split s depends on the shapes only: the sums are
// deterministic.

// channel_slice returns the range of part q of s of a channel's per values.
__device__ void channel_slice(int per, int s, int q, int *lo, int *hi) {
	int len = (per + s - 1) / s;
	*lo = min(per, q * len);
	*hi = min(per, *lo + len);
}

// channel_sum_part: part[b] = Σ src over part b mod s of channel b / s.
template <typename T>
__device__ void channel_sum_part(int n, int c, int hw, int s, const T *src, double *part) {
	__shared__ double sh[RED_THREADS];
	int ch = blockIdx.x / s, lo, hi;
	channel_slice(n * hw, s, blockIdx.x % s, &lo, &hi);
	double acc = 0;
	for (int j = lo + threadIdx.x; j < hi; j += RED_THREADS) {
		int img = j / hw, k = j % hw;
		acc += (double)src[((long long)img * c + ch) * hw + k];
	}
	acc = block_sum(acc, sh);
	if (threadIdx.x == 0) part[blockIdx.x] = acc;
}

// channel_sum_fin: dst[ch] += Σ_q part[ch·s + q], one thread per channel.
template <typename T>
__device__ void channel_sum_fin(int c, int s, const double *part, T *dst) {
	GRID_LOOP(ch, c) {
		double acc = 0;
		for (int q = 0; q < s; q++) acc += part[ch * s + q];
		dst[ch] = T((double)dst[ch] + acc);
	}
}

// bn_fwd: y = γ s (x − μ) + β with s = invstd[c] (double, 1/√(σ²+ε)).
template <typename T>
__device__ void bn_fwd(int n, int c, int hw, const T *x, const T *mean, const double *invstd, const T *gamma, const T *beta, T *y) {
	GRID_LOOP(i, n) {
		int ch = (i / hw) % c;
		double a = (double)gamma[ch] * invstd[ch];
		y[i] = T(a * ((double)x[i] - (double)mean[ch]) + (double)beta[ch]);
	}
}

// bn_jvp: ẏ = γ̇ s (x − μ) + β̇ + γ s ẋ; gdot, bdot, xdot may be null.
template <typename T>
__device__ void bn_jvp(int n, int c, int hw, const T *x, const T *xdot, const T *mean, const double *invstd, const T *gamma, const T *gdot, const T *bdot, T *ydot) {
	GRID_LOOP(i, n) {
		int ch = (i / hw) % c;
		double s = invstd[ch];
		double gd = gdot ? (double)gdot[ch] : 0.0;
		double bd = bdot ? (double)bdot[ch] : 0.0;
		double v = gd * s * ((double)x[i] - (double)mean[ch]) + bd;
		if (xdot) v = (double)T(v) + (double)gamma[ch] * s * (double)xdot[i];
		ydot[i] = T(v);
	}
}

// bn_bwd_x: x̄ += γ s ȳ; x̄̇ += γ s ȳ̇ + γ̇ s ȳ (x̄̇, ȳ̇, γ̇ may be null).
template <typename T>
__device__ void bn_bwd_x(int n, int c, int hw, const T *ybar, const T *ybardot, const double *invstd, const T *gamma, const T *gdot, T *xbar, T *xbardot) {
	GRID_LOOP(i, n) {
		int ch = (i / hw) % c;
		double s = invstd[ch];
		double a = (double)gamma[ch] * s;
		xbar[i] += T(a * (double)ybar[i]);
		if (xbardot) {
			T d = xbardot[i];
			if (ybardot) d += T(a * (double)ybardot[i]);
			if (gdot) d += T((double)gdot[ch] * s * (double)ybar[i]);
			xbardot[i] = d;
		}
	}
}

// bn_bwd_params_part: the four sums of BatchNorm's parameter cotangents
// over part b mod s of channel b / s (see the channel reductions):
//   part[4b]   = Σ ȳ            part[4b+1] = Σ ȳ (x − μ)
//   part[4b+2] = Σ ȳ̇            part[4b+3] = Σ ȳ̇ (x − μ) + ȳ ẋ
// xdot and ybardot may be null.
template <typename T>
__device__ void bn_bwd_params_part(int n, int c, int hw, int s, const T *x, const T *xdot, const T *ybar, const T *ybardot, const T *mean, double *part) {
	__shared__ double sh[RED_THREADS];
	int ch = blockIdx.x / s, lo, hi;
	channel_slice(n * hw, s, blockIdx.x % s, &lo, &hi);
	double mu = (double)mean[ch];
	double sy = 0, syx = 0, syd = 0, sydx = 0;
	for (int j = lo + threadIdx.x; j < hi; j += RED_THREADS) {
		int img = j / hw, k = j % hw;
		long long i = ((long long)img * c + ch) * hw + k;
		double y = (double)ybar[i], xc = (double)x[i] - mu;
		sy += y;
		syx += y * xc;
		if (ybardot) {
			double yd = (double)ybardot[i];
			syd += yd;
			sydx += yd * xc;
		}
		if (xdot) sydx += y * (double)xdot[i];
	}
	sy = block_sum(sy, sh);
	syx = block_sum(syx, sh);
	syd = block_sum(syd, sh);
	sydx = block_sum(sydx, sh);
	if (threadIdx.x == 0) {
		double *p = part + 4 * (long long)blockIdx.x;
		p[0] = sy;
		p[1] = syx;
		p[2] = syd;
		p[3] = sydx;
	}
}

// bn_bwd_params_fin, one thread per channel, s = invstd:
//   γ̄ += s Σ ȳ (x − μ)      β̄ += Σ ȳ
//   γ̄̇ += s Σ (ȳ̇ (x − μ) + ȳ ẋ)   β̄̇ += Σ ȳ̇
// Any output may be null.
template <typename T>
__device__ void bn_bwd_params_fin(int c, int s, const double *part, const double *invstd, T *gbar, T *bbar, T *gbardot, T *bbardot) {
	GRID_LOOP(ch, c) {
		double sum[4] = {0, 0, 0, 0};
		for (int q = 0; q < s; q++)
			for (int r = 0; r < 4; r++) sum[r] += part[4 * (ch * s + q) + r];
		double is = invstd[ch];
		if (gbar) gbar[ch] += T(is * sum[1]);
		if (bbar) bbar[ch] += T(sum[0]);
		if (gbardot) gbardot[ch] += T(is * sum[3]);
		if (bbardot) bbardot[ch] += T(sum[2]);
	}
}

// maxpool_fwd: PyTorch's max-pool (dilation 1, floor mode) over nc planes
// H×W padded with −∞; the window is scanned row-major from −∞ and a value
// replaces the maximum when greater or NaN (PyTorch's rule, autodiff's).
// argmax gets the selected pixel's offset within its plane.
template <typename T>
__device__ void maxpool_fwd(int nc, int h, int w, int oh, int ow, int k, int st, int p, const T *x, T *y, int *argmax) {
	int n = nc * oh * ow;
	GRID_LOOP(i, n) {
		int pl = i / (oh * ow), o = i % (oh * ow);
		int oy = o / ow, ox = o % ow;
		int y0 = oy * st - p, x0 = ox * st - p;
		int ylo = max(y0, 0), yhi = min(y0 + k, h), xlo = max(x0, 0), xhi = min(x0 + k, w);
		const T *plane = x + (long long)pl * h * w;
		T best = T(-1.0 / 0.0);
		int at = ylo * w + xlo;
		for (int iy = ylo; iy < yhi; iy++) {
			for (int ix = xlo; ix < xhi; ix++) {
				T v = plane[iy * w + ix];
				if (v > best || v != v) {
					best = v;
					at = iy * w + ix;
				}
			}
		}
		y[i] = best;
		argmax[i] = at;
	}
}

// maxpool_gather: dst[o] = src[plane(o), argmax[o]] (the JVP).
template <typename T>
__device__ void maxpool_gather(int n, int in, int out, const int *argmax, const T *src, T *dst) {
	GRID_LOOP(i, n) { dst[i] = src[(long long)(i / out) * in + argmax[i]]; }
}

// maxpool_bwd: x̄[pixel] += Σ ȳ over the windows that selected the pixel,
// gathered per input pixel in window order (deterministic, no atomics).
template <typename T>
__device__ void maxpool_bwd(int nc, int h, int w, int oh, int ow, int k, int st, int p, const int *argmax, const T *ybar, T *xbar) {
	int n = nc * h * w;
	GRID_LOOP(i, n) {
		int pl = i / (h * w), at = i % (h * w);
		int iy = at / w, ix = at % w;
		// windows oy with oy·st − p ≤ iy < oy·st − p + k
		int oylo = max(0, (iy + p - k + st) / st), oyhi = min(oh - 1, (iy + p) / st);
		int oxlo = max(0, (ix + p - k + st) / st), oxhi = min(ow - 1, (ix + p) / st);
		const int *am = argmax + (long long)pl * oh * ow;
		const T *yb = ybar + (long long)pl * oh * ow;
		T s = T(0);
		bool any = false;
		for (int oy = oylo; oy <= oyhi; oy++) {
			for (int ox = oxlo; ox <= oxhi; ox++) {
				if (am[oy * ow + ox] == at) {
					s += yb[oy * ow + ox];
					any = true;
				}
			}
		}
		if (any) xbar[i] += s;
	}
}

// gap_fwd: y[nc] = mean of the HW values of plane nc.
template <typename T>
__device__ void gap_fwd(int nc, int hw, const T *x, T *y) {
	GRID_LOOP(i, nc) {
		double s = 0;
		const T *xp = x + (long long)i * hw;
		for (int j = 0; j < hw; j++) s += (double)xp[j];
		y[i] = T(s / hw);
	}
}

// gap_bwd: x̄[nc, j] += ȳ[nc] / HW.
template <typename T>
__device__ void gap_bwd(int n, int hw, const T *ybar, T *xbar) {
	GRID_LOOP(i, n) { xbar[i] += T((double)ybar[i / hw] / hw); }
}

// ce_fwd: per row of logits z [N, K]: p = softmax(z) (double) and the
// sample's loss log Σ exp z − z[label] (double), as autodiff's
// SoftmaxCrossEntropy computes them.
template <typename T>
__device__ void ce_fwd(int n, int k, const T *z, const int *labels, double *p, double *loss) {
	GRID_LOOP(i, n) {
		const T *row = z + (long long)i * k;
		double *pr = p + (long long)i * k;
		double m = -1.0 / 0.0;
		for (int j = 0; j < k; j++) m = fmax(m, (double)row[j]);
		double s = 0;
		for (int j = 0; j < k; j++) {
			pr[j] = exp((double)row[j] - m);
			s += pr[j];
		}
		for (int j = 0; j < k; j++) pr[j] /= s;
		loss[i] = m + log(s) - (double)row[labels[i]];
	}
}

// ce_bwd: z̄ += (p − e)/N and, if zdot is not null,
// z̄̇ += (p ⊙ ż − p ⟨p, ż⟩)/N; one thread per row (L̄ = 1: the loss is the
// output).
template <typename T>
__device__ void ce_bwd(int n, int k, const double *p, const int *labels, const T *zdot, T *zbar, T *zbardot) {
	double scale = 1.0 / n;
	GRID_LOOP(i, n) {
		const double *pr = p + (long long)i * k;
		T *zb = zbar + (long long)i * k;
		for (int j = 0; j < k; j++) {
			double g = pr[j];
			if (j == labels[i]) g -= 1;
			zb[j] += T(scale * g);
		}
		if (zdot && zbardot) {
			const T *zd = zdot + (long long)i * k;
			T *zbd = zbardot + (long long)i * k;
			double pz = 0;
			for (int j = 0; j < k; j++) pz += pr[j] * (double)zd[j];
			for (int j = 0; j < k; j++) zbd[j] += T(scale * pr[j] * ((double)zd[j] - pz));
		}
	}
}

#define INSTANTIATE(T, S)                                                                                                   \
	extern "C" __global__ void relu_mask_##S(int n, const T *x, const T *v, T *y) { relu_mask(n, x, v, y); }             \
	extern "C" __global__ void relu_mask_add_##S(int n, const T *x, const T *v, T *y) { relu_mask_add(n, x, v, y); }     \
	extern "C" __global__ void add2_##S(int n, const T *a, const T *b, T *y) { add2(n, a, b, y); }                      \
	extern "C" __global__ void acc_##S(int n, const T *src, T *dst) { acc(n, src, dst); }                               \
	extern "C" __global__ void bias_add_##S(int n, int c, int hw, const T *b, T *y) { bias_add(n, c, hw, b, y); }       \
	extern "C" __global__ void channel_sum_part_##S(int n, int c, int hw, int s, const T *src, double *part) {         \
		channel_sum_part(n, c, hw, s, src, part);                                                                    \
	}                                                                                                                     \
	extern "C" __global__ void channel_sum_fin_##S(int c, int s, const double *part, T *dst) {                         \
		channel_sum_fin(c, s, part, dst);                                                                            \
	}                                                                                                                     \
	extern "C" __global__ void bn_fwd_##S(int n, int c, int hw, const T *x, const T *mean, const double *invstd,      \
	                                      const T *gamma, const T *beta, T *y) {                                      \
		bn_fwd(n, c, hw, x, mean, invstd, gamma, beta, y);                                                           \
	}                                                                                                                     \
	extern "C" __global__ void bn_jvp_##S(int n, int c, int hw, const T *x, const T *xdot, const T *mean,              \
	                                      const double *invstd, const T *gamma, const T *gdot, const T *bdot,         \
	                                      T *ydot) {                                                                  \
		bn_jvp(n, c, hw, x, xdot, mean, invstd, gamma, gdot, bdot, ydot);                                            \
	}                                                                                                                     \
	extern "C" __global__ void bn_bwd_x_##S(int n, int c, int hw, const T *ybar, const T *ybardot,                    \
	                                        const double *invstd, const T *gamma, const T *gdot, T *xbar,            \
	                                        T *xbardot) {                                                             \
		bn_bwd_x(n, c, hw, ybar, ybardot, invstd, gamma, gdot, xbar, xbardot);                                       \
	}                                                                                                                     \
	extern "C" __global__ void bn_bwd_params_part_##S(int n, int c, int hw, int s, const T *x, const T *xdot,         \
	                                                  const T *ybar, const T *ybardot, const T *mean, double *part) {  \
		bn_bwd_params_part(n, c, hw, s, x, xdot, ybar, ybardot, mean, part);                                         \
	}                                                                                                                     \
	extern "C" __global__ void bn_bwd_params_fin_##S(int c, int s, const double *part, const double *invstd, T *gbar, \
	                                                 T *bbar, T *gbardot, T *bbardot) {                               \
		bn_bwd_params_fin(c, s, part, invstd, gbar, bbar, gbardot, bbardot);                                         \
	}                                                                                                                     \
	extern "C" __global__ void maxpool_fwd_##S(int nc, int h, int w, int oh, int ow, int k, int st, int p,           \
	                                           const T *x, T *y, int *argmax) {                                       \
		maxpool_fwd(nc, h, w, oh, ow, k, st, p, x, y, argmax);                                                       \
	}                                                                                                                     \
	extern "C" __global__ void maxpool_gather_##S(int n, int in, int out, const int *argmax, const T *src, T *dst) {  \
		maxpool_gather(n, in, out, argmax, src, dst);                                                                \
	}                                                                                                                     \
	extern "C" __global__ void maxpool_bwd_##S(int nc, int h, int w, int oh, int ow, int k, int st, int p,           \
	                                           const int *argmax, const T *ybar, T *xbar) {                           \
		maxpool_bwd(nc, h, w, oh, ow, k, st, p, argmax, ybar, xbar);                                                 \
	}                                                                                                                     \
	extern "C" __global__ void gap_fwd_##S(int nc, int hw, const T *x, T *y) { gap_fwd(nc, hw, x, y); }                 \
	extern "C" __global__ void gap_bwd_##S(int n, int hw, const T *ybar, T *xbar) { gap_bwd(n, hw, ybar, xbar); }       \
	extern "C" __global__ void ce_fwd_##S(int n, int k, const T *z, const int *labels, double *p, double *loss) {      \
		ce_fwd(n, k, z, labels, p, loss);                                                                            \
	}                                                                                                                     \
	extern "C" __global__ void ce_bwd_##S(int n, int k, const double *p, const int *labels, const T *zdot, T *zbar,   \
	                                      T *zbardot) {                                                               \
		ce_bwd(n, k, p, labels, zdot, zbar, zbardot);                                                                \
	}

INSTANTIATE(float, f32)
INSTANTIATE(double, f64)
