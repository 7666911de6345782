// Package nn holds the named parameters of a network, the Graph that binds
// them to an autodiff tape for one forward pass, and the layers (Linear,
// Conv2d, BatchNorm2d) that models are assembled from. Layers have no
// derivative code of their own: they only record autodiff primitives.
package nn
