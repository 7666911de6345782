package models

import (
	"fmt"

	"hesscope/autodiff"
	"hesscope/nn"
	"hesscope/tensor"
)

type fwd[T tensor.Float] = func(g *nn.Graph[T], x autodiff.Var) autodiff.Var

// mlp: flatten → fc1(512) → relu → fc2(512) → relu → fc3.
func mlp[T tensor.Float](b *build[T]) ([3]int, fwd[T]) {
	fc1, fc2, fc3 := b.linear("fc1", 784, 512), b.linear("fc2", 512, 512), b.linear("fc3", 512, b.classes)
	return [3]int{1, 28, 28}, func(g *nn.Graph[T], x autodiff.Var) autodiff.Var {
		h := g.Flatten(x)
		h = b.act(g, fc1.Forward(g, h))
		h = b.act(g, fc2.Forward(g, h))
		return fc3.Forward(g, h)
	}
}

// lenet5: conv1(5,20) → relu → pool(2,2) → conv2(5,50) → relu → pool(2,2)
// → flatten(800) → fc1(500) → relu → fc2.
func lenet5[T tensor.Float](b *build[T]) ([3]int, fwd[T]) {
	conv1 := b.conv("conv1", 1, 20, 5, 1, 0, true)
	conv2 := b.conv("conv2", 20, 50, 5, 1, 0, true)
	fc1, fc2 := b.linear("fc1", 800, 500), b.linear("fc2", 500, b.classes)
	return [3]int{1, 28, 28}, func(g *nn.Graph[T], x autodiff.Var) autodiff.Var {
		h := b.convActPool(g, conv1, x, 2, 2)
		h = b.convActPool(g, conv2, h, 2, 2)
		h = b.act(g, fc1.Forward(g, g.Flatten(h)))
		return fc2.Forward(g, h)
	}
}

// c1: conv1(5,64,1,2) → relu → bn1 → pool(3,2,1) → conv2(5,64,1,2) → relu →
// bn2 → pool(3,2,1) → flatten(4096) → fc1(384) → relu → fc2(192) → relu → fc3.
func c1[T tensor.Float](b *build[T]) ([3]int, fwd[T]) {
	conv1 := b.conv("conv1", 3, 64, 5, 1, 2, true)
	bn1 := b.bn("bn1", 64)
	conv2 := b.conv("conv2", 64, 64, 5, 1, 2, true)
	bn2 := b.bn("bn2", 64)
	fc1, fc2, fc3 := b.linear("fc1", 4096, 384), b.linear("fc2", 384, 192), b.linear("fc3", 192, b.classes)
	return [3]int{3, 32, 32}, func(g *nn.Graph[T], x autodiff.Var) autodiff.Var {
		h := g.MaxPool(b.actBN(g, bn1, conv1.Forward(g, x)), 3, 2, 1)
		h = g.MaxPool(b.actBN(g, bn2, conv2.Forward(g, h)), 3, 2, 1)
		h = b.act(g, fc1.Forward(g, g.Flatten(h)))
		h = b.act(g, fc2.Forward(g, h))
		return fc3.Forward(g, h)
	}
}

// c2: conv1(3,64) → relu → bn1 → conv2(3,64) → relu → bn2 → pool(2,2) →
// conv3(3,128) → relu → bn3 → conv4(3,128) → relu → bn4 → pool(2,2) →
// flatten(3200) → fc1(256) → relu → fc2(256) → relu → fc3.
func c2[T tensor.Float](b *build[T]) ([3]int, fwd[T]) {
	type stage struct {
		conv *nn.Conv2d[T]
		bn   *nn.BatchNorm2d[T]
	}
	chans := []int{3, 64, 64, 128, 128}
	stages := make([]stage, 4)
	for i := range stages {
		stages[i].conv = b.conv(fmt.Sprintf("conv%d", i+1), chans[i], chans[i+1], 3, 1, 0, true)
		stages[i].bn = b.bn(fmt.Sprintf("bn%d", i+1), chans[i+1])
	}
	fc1, fc2, fc3 := b.linear("fc1", 3200, 256), b.linear("fc2", 256, 256), b.linear("fc3", 256, b.classes)
	return [3]int{3, 32, 32}, func(g *nn.Graph[T], x autodiff.Var) autodiff.Var {
		h := x
		for i, s := range stages {
			h = b.actBN(g, s.bn, s.conv.Forward(g, h))
			if i%2 == 1 {
				h = g.MaxPool(h, 2, 2, 0)
			}
		}
		h = b.act(g, fc1.Forward(g, g.Flatten(h)))
		h = b.act(g, fc2.Forward(g, h))
		return fc3.Forward(g, h)
	}
}

// basicBlock is a ResNet basic block: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)).
type basicBlock[T tensor.Float] struct {
	conv1, conv2 *nn.Conv2d[T]
	bn1, bn2     *nn.BatchNorm2d[T]
	downConv     *nn.Conv2d[T] // nil for the identity shortcut
	downBN       *nn.BatchNorm2d[T]
}

func (b *build[T]) block(prefix string, in, out, stride int) *basicBlock[T] {
	blk := &basicBlock[T]{}
	blk.conv1 = b.conv(prefix+".conv1", in, out, 3, stride, 1, false)
	blk.bn1 = b.bn(prefix+".bn1", out)
	blk.conv2 = b.conv(prefix+".conv2", out, out, 3, 1, 1, false)
	blk.bn2 = b.bn(prefix+".bn2", out)
	if stride != 1 || in != out {
		blk.downConv = b.conv(prefix+".downsample.0", in, out, 1, stride, 0, false)
		blk.downBN = b.bn(prefix+".downsample.1", out)
	}
	return blk
}

func (blk *basicBlock[T]) forward(b *build[T], g *nn.Graph[T], x autodiff.Var) autodiff.Var {
	h := b.bnAct(g, blk.bn1, blk.conv1.Forward(g, x))
	if b.relu {
		// bn2, the sum and the ReLU as one primitive in Eval mode (the
		// same numbers).
		h = blk.conv2.Forward(g, h)
		return blk.bn2.ForwardAddReLU(g, h, blk.shortcut(g, x))
	}
	h = blk.bn2.Forward(g, blk.conv2.Forward(g, h))
	return b.act(g, g.Add(h, blk.shortcut(g, x)))
}

// shortcut records the block's shortcut of x: x, or the downsampling.
func (blk *basicBlock[T]) shortcut(g *nn.Graph[T], x autodiff.Var) autodiff.Var {
	if blk.downConv == nil {
		return x
	}
	return blk.downBN.Forward(g, blk.downConv.Forward(g, x))
}

// resnet: conv1(3,width,1,1, no bias) → bn1 → relu → stages of basic blocks
// (widths width·2^i, the first block of every stage after the first has
// stride 2) → global average pool → fc.
func resnet[T tensor.Float](b *build[T], width int, blocks []int) ([3]int, fwd[T]) {
	conv1 := b.conv("conv1", 3, width, 3, 1, 1, false)
	bn1 := b.bn("bn1", width)
	var all []*basicBlock[T]
	in := width
	for s, n := range blocks {
		out := width << s
		for i := 0; i < n; i++ {
			stride := 1
			if i == 0 && s > 0 {
				stride = 2
			}
			all = append(all, b.block(fmt.Sprintf("layer%d.%d", s+1, i), in, out, stride))
			in = out
		}
	}
	fc := b.linear("fc", in, b.classes)
	return [3]int{3, 32, 32}, func(g *nn.Graph[T], x autodiff.Var) autodiff.Var {
		h := b.bnAct(g, bn1, conv1.Forward(g, x))
		for _, blk := range all {
			h = blk.forward(b, g, h)
		}
		return fc.Forward(g, g.AvgPool(h))
	}
}
