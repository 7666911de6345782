package data

import (
	"fmt"
	"math/rand/v2"
)

// AugmentPad is the zero padding, in pixels, of Augment's random crop.
const AugmentPad = 4

// Augment writes to dstX a randomly augmented copy of the n images in srcX
// (NCHW, c channels of h×w): the standard CIFAR augmentation, as torchvision's
// RandomCrop(size, padding=4) followed by RandomHorizontalFlip(p=0.5).
//
// For each image in turn it draws, from rng, a vertical and a horizontal
// offset in [0, 2·AugmentPad] and then a flip bit, pads the image with
// AugmentPad zero pixels on every side, crops the h×w window at the offsets
// and, if the bit is set, mirrors it left to right. The result depends only
// on srcX and rng's state. Augment before normalising, so that padding is
// black as in torchvision.
//
// dstX and srcX must both have n·c·h·w values and must not overlap. Augment
// panics on wrong lengths or if dstX and srcX are the same slice.
func Augment(dstX, srcX []float32, n, c, h, w int, rng *rand.Rand) {
	size := c * h * w
	if n < 0 || c <= 0 || h <= 0 || w <= 0 || len(srcX) != n*size || len(dstX) != n*size {
		panic(fmt.Sprintf("data: Augment: dst %d and src %d values for %d×%d×%d×%d images", len(dstX), len(srcX), n, c, h, w))
	}
	if n > 0 && &dstX[0] == &srcX[0] {
		panic("data: Augment: dst and src are the same slice")
	}
	for i := range n {
		dy := int(bounded(rng, 2*AugmentPad+1)) - AugmentPad
		dx := int(bounded(rng, 2*AugmentPad+1)) - AugmentPad
		flip := rng.Uint64()>>63 == 1
		augmentOne(dstX[i*size:(i+1)*size], srcX[i*size:(i+1)*size], c, h, w, dy, dx, flip)
	}
}

// augmentOne writes to dst the image src (c×h×w) shifted by (dy, dx) with
// zero fill, mirrored if flip: output pixel (y, x) is input pixel (y+dy,
// x+dx), or (y+dy, w-1-x+dx) when flipped, and zero when that lies outside
// the image. The crop at offsets (oy, ox) of the padded image is the shift
// (oy-AugmentPad, ox-AugmentPad).
func augmentOne(dst, src []float32, c, h, w, dy, dx int, flip bool) {
	for ch := range c {
		in := src[ch*h*w : (ch+1)*h*w]
		out := dst[ch*h*w : (ch+1)*h*w]
		for y := range h {
			row := out[y*w : (y+1)*w]
			sy := y + dy
			if sy < 0 || sy >= h {
				clear(row)
				continue
			}
			inRow := in[sy*w : (sy+1)*w]
			for x := range w {
				sx := x + dx
				if flip {
					sx = w - 1 - x + dx
				}
				if sx < 0 || sx >= w {
					row[x] = 0
				} else {
					row[x] = inRow[sx]
				}
			}
		}
	}
}
