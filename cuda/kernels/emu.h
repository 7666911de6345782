// emu.h compiles kernels.cu for the CPU, for the tests of package cuda on
// machines without a GPU (see emu_test.go):
//
//     g++ -O1 -shared -fPIC -include emu.h kernels.cu -o kernels_emu.so
//
// Every block runs one thread (RED_THREADS 1, so that a reduction's loop
// visits every element); the caller runs the blocks one after another,
// setting blockIdx and gridDim with emu_grid. This checks the kernels'
// arithmetic, indexing and tie rules, not their parallel schedule.
#include <algorithm>
#include <cmath>

#define RED_THREADS 1
#define __global__
#define __device__
#define __shared__ static
#define __syncthreads()

struct emu_dim {
	int x;
};
static emu_dim blockIdx, threadIdx, blockDim = {1}, gridDim = {1};
using std::max;
using std::min;

extern "C" void emu_grid(int block, int blocks) {
	blockIdx.x = block;
	gridDim.x = blocks;
}
