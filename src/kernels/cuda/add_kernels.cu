// ADD Studio's CUDA kernels (f32, contiguous NCHW unless a stride argument says otherwise).
// build.rs compiles this file to PTX with nvcc when the `cuda` feature is on; src/kernels/cuda/
// launches it. Each kernel mirrors a CPU kernel in src/kernels/ and is tested against it
// (tests/gpu.rs). Launch shapes come from src/kernels/launch.rs: 1-D grids with a grid-stride
// loop, and one block per reduction for the weight gradient and the BatchNorm sums.

#define BLOCK 256

// Element i of a row-major (planes, H, W) tensor: its plane and its row and column.
struct Pixel {
    size_t plane;
    int y, x;
};

__device__ __forceinline__ Pixel pixel(size_t i, int H, int W) {
    Pixel p;
    p.x = (int)(i % W);
    p.y = (int)((i / W) % H);
    p.plane = i / ((size_t)W * H);
    return p;
}

// ---- depthwise convolution: y[n,c,oy,ox] = sum w[c,ky,kx] * x[n,c,oy*S+ky*D-P, ox*S+kx*D-P] ----

template <int K>
__device__ __forceinline__ float dw_point(const float* __restrict__ xp, const float* __restrict__ wc, int H,
                                          int W, int iy0, int ix0, int D, int k) {
    const int kk = K > 0 ? K : k;
    float acc = 0.f;
#pragma unroll
    for (int ky = 0; ky < (K > 0 ? K : 8); ++ky) {
        if (K == 0 && ky >= kk) break;
        const int iy = iy0 + ky * D;
        if (iy < 0 || iy >= H) continue;
        const float* row = xp + (size_t)iy * W;
#pragma unroll
        for (int kx = 0; kx < (K > 0 ? K : 8); ++kx) {
            if (K == 0 && kx >= kk) break;
            const int ix = ix0 + kx * D;
            if (ix >= 0 && ix < W) acc = fmaf(wc[ky * kk + kx], row[ix], acc);
        }
    }
    return acc;
}

// One thread per output element. Kernel sizes 3 and 5 are unrolled; any other size up to 8
// takes the generic loop (the Rust side refuses k > 8 on the GPU path).
extern "C" __global__ void dw_fwd(const float* __restrict__ x, const float* __restrict__ w, float* __restrict__ y,
                                  int NC, int C, int H, int W, int OH, int OW, int K, int S, int P, int D) {
    const size_t total = (size_t)NC * OH * OW;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        const Pixel o = pixel(i, OH, OW);
        const float* xp = x + o.plane * H * W;
        const float* wc = w + (o.plane % C) * K * K;
        const int iy0 = o.y * S - P, ix0 = o.x * S - P;
        float v;
        if (K == 3) v = dw_point<3>(xp, wc, H, W, iy0, ix0, D, 3);
        else if (K == 5) v = dw_point<5>(xp, wc, H, W, iy0, ix0, D, 5);
        else v = dw_point<0>(xp, wc, H, W, iy0, ix0, D, K);
        y[i] = v;
    }
}

// dL/dx, one thread per input element, gathering (no atomics, deterministic): output row oy
// reads input row iy through kernel row ky when oy*S = iy + P - ky*D.
extern "C" __global__ void dw_bwd_input(const float* __restrict__ gy, const float* __restrict__ w,
                                        float* __restrict__ gx, int NC, int C, int H, int W, int OH, int OW, int K,
                                        int S, int P, int D) {
    const size_t total = (size_t)NC * H * W;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        const Pixel in = pixel(i, H, W);
        const int iy = in.y, ix = in.x;
        const float* gp = gy + in.plane * OH * OW;
        const float* wc = w + (in.plane % C) * K * K;
        float acc = 0.f;
        for (int ky = 0; ky < K; ++ky) {
            const int ty = iy + P - ky * D;
            if (ty < 0 || ty % S != 0) continue;
            const int oy = ty / S;
            if (oy >= OH) continue;
            for (int kx = 0; kx < K; ++kx) {
                const int tx = ix + P - kx * D;
                if (tx < 0 || tx % S != 0) continue;
                const int ox = tx / S;
                if (ox < OW) acc = fmaf(wc[ky * K + kx], gp[(size_t)oy * OW + ox], acc);
            }
        }
        gx[i] = acc;
    }
}

// Sums a double per thread over the block; thread 0 gets the total.
__device__ __forceinline__ double block_sum(double v, double* shared) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    __syncthreads();
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    v = threadIdx.x < (blockDim.x >> 5) ? shared[threadIdx.x] : 0.0;
    if (warp == 0)
        for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    return v;
}

// dL/dw, one block per (channel, tap): sum over batch and output pixels of gy * x, in double
// like the CPU kernel (no atomics, deterministic). Grid: C * K * K blocks of BLOCK threads.
extern "C" __global__ void dw_bwd_weight(const float* __restrict__ x, const float* __restrict__ gy,
                                         float* __restrict__ gw, int N, int C, int H, int W, int OH, int OW, int K,
                                         int S, int P, int D) {
    __shared__ double shared[BLOCK / 32];
    const int c = blockIdx.x / (K * K), tap = blockIdx.x % (K * K);
    const int ky = tap / K, kx = tap % K;
    const size_t per_image = (size_t)OH * OW;
    double acc = 0.0;
    for (size_t j = threadIdx.x; j < (size_t)N * per_image; j += blockDim.x) {
        const int n = (int)(j / per_image);
        const int oy = (int)((j % per_image) / OW), ox = (int)(j % OW);
        const int iy = oy * S + ky * D - P, ix = ox * S + kx * D - P;
        if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
        const size_t plane = (size_t)n * C + c;
        acc += (double)gy[plane * per_image + j % per_image] * (double)x[plane * H * W + (size_t)iy * W + ix];
    }
    acc = block_sum(acc, shared);
    if (threadIdx.x == 0) gw[blockIdx.x] = (float)acc;
}

// ---- bilinear resize, PyTorch's size-mode source positions (resize_cpu.rs axis_taps) ----

struct Tap {
    int i0, i1;
    float l0, l1;
};

// Exactly axis_taps' f32 arithmetic: __fmul_rn/__fadd_rn keep nvcc from contracting the source
// position into an FMA, which would move it by an ulp (1e-4 of a pixel at 2049 wide) and the
// output by up to that times the neighbours' difference.
__device__ __forceinline__ Tap axis_tap(int i, int in_len, float scale, int align) {
    float src = align ? __fmul_rn(scale, (float)i) : fmaxf(__fadd_rn(__fmul_rn(scale, __fadd_rn((float)i, 0.5f)), -0.5f), 0.f);
    int i0 = min((int)floorf(src), in_len - 1);
    float lambda = fminf(fmaxf(__fsub_rn(src, (float)i0), 0.f), 1.f);
    Tap t;
    t.i0 = i0;
    t.i1 = i0 < in_len - 1 ? i0 + 1 : i0;
    t.l0 = __fsub_rn(1.f, lambda);
    t.l1 = lambda;
    return t;
}

// One thread per output element; like the CPU kernel, blend along W first, then along H.
extern "C" __global__ void resize_fwd(const float* __restrict__ x, float* __restrict__ y, int NC, int H, int W,
                                      int OH, int OW, float scale_h, float scale_w, int align) {
    const size_t total = (size_t)NC * OH * OW;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        const Pixel o = pixel(i, OH, OW);
        const Tap ty = axis_tap(o.y, H, scale_h, align), tx = axis_tap(o.x, W, scale_w, align);
        const float* r0 = x + o.plane * H * W + (size_t)ty.i0 * W;
        const float* r1 = x + o.plane * H * W + (size_t)ty.i1 * W;
        const float a = __fadd_rn(__fmul_rn(tx.l0, r0[tx.i0]), __fmul_rn(tx.l1, r0[tx.i1]));
        const float b = __fadd_rn(__fmul_rn(tx.l0, r1[tx.i0]), __fmul_rn(tx.l1, r1[tx.i1]));
        y[i] = __fadd_rn(__fmul_rn(ty.l0, a), __fmul_rn(ty.l1, b));
    }
}

// dL/dx: one thread per output gradient element, atomically added onto its four source
// pixels (as PyTorch's CUDA kernel does; the order of the adds, so the last bits, vary).
// gx must be zero on entry.
extern "C" __global__ void resize_bwd(const float* __restrict__ gy, float* __restrict__ gx, int NC, int H, int W,
                                      int OH, int OW, float scale_h, float scale_w, int align) {
    const size_t total = (size_t)NC * OH * OW;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        const Pixel o = pixel(i, OH, OW);
        const Tap ty = axis_tap(o.y, H, scale_h, align), tx = axis_tap(o.x, W, scale_w, align);
        const float g = gy[i];
        float* p = gx + o.plane * H * W;
        atomicAdd(p + (size_t)ty.i0 * W + tx.i0, ty.l0 * tx.l0 * g);
        atomicAdd(p + (size_t)ty.i0 * W + tx.i1, ty.l0 * tx.l1 * g);
        atomicAdd(p + (size_t)ty.i1 * W + tx.i0, ty.l1 * tx.l0 * g);
        atomicAdd(p + (size_t)ty.i1 * W + tx.i1, ty.l1 * tx.l1 * g);
    }
}

// ---- the exit maps: arg-max class, max probability, entropy / ln K, one pass over the logits ----

// logits: one image, K classes, H x W pixels at `offset`, class stride `cs`, row stride `rs`,
// column stride 1 (a cropped view of the padded output needs no copy). Output (3, H, W):
// plane 0 the class (as a float, exact below 2^24), 1 the max probability, 2 the normalised
// entropy clamped to [0, 1]. With z = x - max: p = e^z / s, entropy = ln s - (sum z e^z) / s.
extern "C" __global__ void exit_maps(const float* __restrict__ logits, float* __restrict__ out, int K, int H, int W,
                                     long long offset, long long cs, long long rs, float inv_log_k) {
    const size_t total = (size_t)H * W;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        const int px = (int)(i % W), py = (int)(i / W);
        const float* p = logits + offset + (long long)py * rs + px;
        float m = -INFINITY;
        int best = 0;
        for (int c = 0; c < K; ++c) {
            const float v = p[c * cs];
            if (v > m) {  // the first maximum wins, as on the CPU
                m = v;
                best = c;
            }
        }
        float s = 0.f, t = 0.f;
        for (int c = 0; c < K; ++c) {
            const float z = p[c * cs] - m;
            const float e = expf(z);
            s += e;
            t = fmaf(z, e, t);
        }
        const float inv = 1.f / s;
        out[i] = (float)best;
        out[total + i] = inv;
        out[2 * total + i] = fminf(fmaxf((logf(s) - t * inv) * inv_log_k, 0.f), 1.f);
    }
}

// ---- training-mode BatchNorm (batchnorm.rs): statistics, normalisation, backward ----
// p: per-channel rows of C floats: 0 gamma, 1 beta, 2 mean, 3 invstd = 1 / sqrt(var + eps),
// 4 var, and in the backward 5 dgamma, 6 dbeta.

// Per channel (one block each): mean and biased variance over N, H, W in double, shifted by
// the channel's first value so that a large mean does not cancel the variance (as on the CPU).
// stats: (3, C) rows mean, invstd, var.
extern "C" __global__ void bn_stats(const float* __restrict__ x, float* __restrict__ stats, int N, int C, int HW,
                                    float eps) {
    __shared__ double shared[BLOCK / 32];
    __shared__ double mean_d;
    const int c = blockIdx.x;
    const float shift = x[(size_t)c * HW];
    const size_t m = (size_t)N * HW;
    double s = 0.0, ss = 0.0;
    for (size_t j = threadIdx.x; j < m; j += blockDim.x) {
        const double d = (double)x[((j / HW) * C + c) * HW + j % HW] - shift;
        s += d;
        ss += d * d;
    }
    s = block_sum(s, shared);
    if (threadIdx.x == 0) mean_d = s / (double)m;
    ss = block_sum(ss, shared);
    if (threadIdx.x == 0) {
        const double var = fmax(ss / (double)m - mean_d * mean_d, 0.0);
        stats[c] = (float)(shift + mean_d);
        stats[C + c] = (float)(1.0 / sqrt(var + (double)eps));
        stats[2 * C + c] = (float)var;
    }
}

// y = (x - mean) * invstd * gamma + beta; one thread per element.
extern "C" __global__ void bn_apply(const float* __restrict__ x, const float* __restrict__ p, float* __restrict__ y,
                                    int C, int HW, unsigned long long total) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        const int c = (int)((i / HW) % C);
        const float scale = p[c] * p[3 * C + c];
        const float shift = p[C + c] - p[2 * C + c] * scale;
        y[i] = fmaf(x[i], scale, shift);
    }
}

// Backward sums per channel (one block each), in double: out (2, C) rows
// dgamma = sum(gy * (x - mean)) * invstd and dbeta = sum(gy).
extern "C" __global__ void bn_bwd_sums(const float* __restrict__ x, const float* __restrict__ gy,
                                       const float* __restrict__ p, float* __restrict__ out, int N, int C, int HW) {
    __shared__ double shared[BLOCK / 32];
    const int c = blockIdx.x;
    const float mu = p[2 * C + c];
    const size_t m = (size_t)N * HW;
    double sg = 0.0, sgx = 0.0;
    for (size_t j = threadIdx.x; j < m; j += blockDim.x) {
        const size_t k = ((j / HW) * C + c) * HW + j % HW;
        sg += (double)gy[k];
        sgx += (double)gy[k] * (double)(x[k] - mu);
    }
    sg = block_sum(sg, shared);
    if (threadIdx.x == 0) out[C + c] = (float)sg;
    sgx = block_sum(sgx, shared);
    if (threadIdx.x == 0) out[c] = (float)(sgx * (double)p[3 * C + c]);
}

// dx = A gy + B x + D per channel with A = g is, B = -g is^3 sgx / M, D = -g is sg / M - B mean
// (the CPU kernel's coefficients, in double), sgx = dgamma / is and sg = dbeta from
// bn_bwd_sums; one thread per element.
extern "C" __global__ void bn_bwd_dx(const float* __restrict__ x, const float* __restrict__ gy,
                                     const float* __restrict__ p, float* __restrict__ gx, int C, int HW,
                                     unsigned long long total, double m) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        const int c = (int)((i / HW) % C);
        const double g = p[c], mu = p[2 * C + c], is = p[3 * C + c];
        const double sgx = (double)p[5 * C + c] / is, sg = p[6 * C + c];
        const double a = g * is;
        const double b = -g * is * is * is * sgx / m;
        const double d = -g * is * sg / m - b * mu;
        gx[i] = (float)(a * gy[i] + b * x[i] + d);
    }
}
