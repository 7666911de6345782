package chart

import "math"

// contourLines returns the contour of z at level as polylines (x, y pairs),
// by marching squares on the grid xs × ys with z[j][i] at (xs[i], ys[j]).
// Crossings are interpolated linearly along the grid edges, and the
// segments of neighbouring cells are joined at their shared crossings, so
// that each contour comes back as one unbroken line: closed lines end where
// they start, open ones end at the border of the grid or at a cell with a
// NaN or ±Inf corner. A saddle cell (its diagonals on opposite sides of the
// level) is resolved by the mean of its corners.
func contourLines(xs, ys []float64, z [][]float64, level float64) [][][2]float64 {
	nx, ny := len(xs), len(ys)
	// An edge crossing is keyed by its edge: horizontal edge (i, j) from
	// (i, j) to (i+1, j) is 2·(j·nx+i), vertical edge (i, j) from (i, j) to
	// (i, j+1) is 2·(j·nx+i)+1.
	hKey := func(i, j int) int { return 2 * (j*nx + i) }
	vKey := func(i, j int) int { return 2*(j*nx+i) + 1 }
	point := func(key int) [2]float64 {
		c := key / 2
		i, j := c%nx, c/nx
		za := z[j][i]
		if key%2 == 0 {
			t := (level - za) / (z[j][i+1] - za)
			return [2]float64{xs[i] + t*(xs[i+1]-xs[i]), ys[j]}
		}
		t := (level - za) / (z[j+1][i] - za)
		return [2]float64{xs[i], ys[j] + t*(ys[j+1]-ys[j])}
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	var segs [][2]int
	for j := 0; j+1 < ny; j++ {
		for i := 0; i+1 < nx; i++ {
			c := [4]float64{z[j][i], z[j][i+1], z[j+1][i+1], z[j+1][i]} // counter-clockwise from (i, j)
			if !finite(c[0]) || !finite(c[1]) || !finite(c[2]) || !finite(c[3]) {
				continue
			}
			edges := [4]int{hKey(i, j), vKey(i+1, j), hKey(i, j+1), vKey(i, j)} // edge k joins corners k and k+1
			var cross []int
			for k := range 4 {
				if (c[k] >= level) != (c[(k+1)%4] >= level) {
					cross = append(cross, edges[k])
				}
			}
			switch len(cross) {
			case 2:
				segs = append(segs, [2]int{cross[0], cross[1]})
			case 4:
				// Corners 0 and 2 on one side, 1 and 3 on the other. If the
				// centre is on corner 0's side, corners 0 and 2 connect
				// through it and the cuts isolate corners 1 and 3.
				centre := (c[0] + c[1] + c[2] + c[3]) / 4
				if (centre >= level) == (c[0] >= level) {
					segs = append(segs, [2]int{edges[0], edges[1]}, [2]int{edges[2], edges[3]})
				} else {
					segs = append(segs, [2]int{edges[3], edges[0]}, [2]int{edges[1], edges[2]})
				}
			}
		}
	}
	// Join: every crossing belongs to at most two segments.
	at := make(map[int][]int, 2*len(segs))
	for s, sg := range segs {
		at[sg[0]] = append(at[sg[0]], s)
		at[sg[1]] = append(at[sg[1]], s)
	}
	used := make([]bool, len(segs))
	walk := func(start, s int) [][2]float64 {
		key := start
		line := [][2]float64{point(key)}
		for !used[s] {
			used[s] = true
			if segs[s][0] == key {
				key = segs[s][1]
			} else {
				key = segs[s][0]
			}
			line = append(line, point(key))
			for _, t := range at[key] {
				if !used[t] {
					s = t
					break
				}
			}
		}
		return line
	}
	var lines [][][2]float64
	// Open lines first, from a crossing with one segment, then the loops.
	for s, sg := range segs {
		for _, end := range sg {
			if !used[s] && len(at[end]) == 1 {
				lines = append(lines, walk(end, s))
			}
		}
	}
	for s, sg := range segs {
		if !used[s] {
			lines = append(lines, walk(sg[0], s))
		}
	}
	return lines
}
