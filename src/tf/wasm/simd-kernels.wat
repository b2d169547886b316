;; Per-channel elementwise kernels with 128-bit SIMD, run on the tfjs wasm backend's own heap (the memory is
;; imported), for the training passes that JavaScript loops made slow: batch-norm statistics and gradients,
;; leading-axis sums. npm run build assembles this file (scripts/assemble-wasm.mjs); wasm/simd.ts loads it.
;;
;; Every tensor is channels-last: `rows` rows of `ch` float32 values, ch a multiple of 4. Pointers are byte
;; offsets into the heap. Accumulating kernels add into float32 accumulators the caller zeroes and reads back
;; in blocks of rows, keeping float32 error small; the caller sums the blocks in float64.
(module
  (import "env" "memory" (memory 1))

  ;; out = p·a + q·b + s per channel; coef = [p | q | s], ch floats each.
  (func (export "affine2") (param $a i32) (param $b i32) (param $out i32) (param $coef i32) (param $rows i32) (param $ch i32)
    (local $rowBytes i32) (local $end i32) (local $c i32) (local $q i32) (local $s i32)
    (local.set $rowBytes (i32.shl (local.get $ch) (i32.const 2)))
    (local.set $q (i32.add (local.get $coef) (local.get $rowBytes)))
    (local.set $s (i32.add (local.get $q) (local.get $rowBytes)))
    (local.set $end (i32.add (local.get $out) (i32.mul (local.get $rows) (local.get $rowBytes))))
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
        (local.set $c (i32.const 0))
        (block $rowDone
          (loop $chunk
            (br_if $rowDone (i32.ge_u (local.get $c) (local.get $rowBytes)))
            (v128.store (i32.add (local.get $out) (local.get $c))
              (f32x4.add
                (f32x4.add
                  (f32x4.mul (v128.load (i32.add (local.get $coef) (local.get $c))) (v128.load (i32.add (local.get $a) (local.get $c))))
                  (f32x4.mul (v128.load (i32.add (local.get $q) (local.get $c))) (v128.load (i32.add (local.get $b) (local.get $c)))))
                (v128.load (i32.add (local.get $s) (local.get $c)))))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $chunk)))
        (local.set $a (i32.add (local.get $a) (local.get $rowBytes)))
        (local.set $b (i32.add (local.get $b) (local.get $rowBytes)))
        (local.set $out (i32.add (local.get $out) (local.get $rowBytes)))
        (br $row))))

  ;; out = k·x + s per channel; coef = [k | s].
  (func (export "scale_shift") (param $x i32) (param $out i32) (param $coef i32) (param $rows i32) (param $ch i32)
    (local $rowBytes i32) (local $end i32) (local $c i32) (local $s i32)
    (local.set $rowBytes (i32.shl (local.get $ch) (i32.const 2)))
    (local.set $s (i32.add (local.get $coef) (local.get $rowBytes)))
    (local.set $end (i32.add (local.get $out) (i32.mul (local.get $rows) (local.get $rowBytes))))
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
        (local.set $c (i32.const 0))
        (block $rowDone
          (loop $chunk
            (br_if $rowDone (i32.ge_u (local.get $c) (local.get $rowBytes)))
            (v128.store (i32.add (local.get $out) (local.get $c))
              (f32x4.add
                (f32x4.mul (v128.load (i32.add (local.get $coef) (local.get $c))) (v128.load (i32.add (local.get $x) (local.get $c))))
                (v128.load (i32.add (local.get $s) (local.get $c)))))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $chunk)))
        (local.set $x (i32.add (local.get $x) (local.get $rowBytes)))
        (local.set $out (i32.add (local.get $out) (local.get $rowBytes)))
        (br $row))))

  ;; acc[c] += Σ_r x[r, c].
  (func (export "col_sum") (param $x i32) (param $rows i32) (param $ch i32) (param $acc i32)
    (local $rowBytes i32) (local $end i32) (local $c i32) (local $p i32)
    (local.set $rowBytes (i32.shl (local.get $ch) (i32.const 2)))
    (local.set $end (i32.add (local.get $x) (i32.mul (local.get $rows) (local.get $rowBytes))))
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (local.set $c (i32.const 0))
        (block $rowDone
          (loop $chunk
            (br_if $rowDone (i32.ge_u (local.get $c) (local.get $rowBytes)))
            (local.set $p (i32.add (local.get $acc) (local.get $c)))
            (v128.store (local.get $p) (f32x4.add (v128.load (local.get $p)) (v128.load (i32.add (local.get $x) (local.get $c)))))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $chunk)))
        (local.set $x (i32.add (local.get $x) (local.get $rowBytes)))
        (br $row))))

  ;; acc[c] += Σ_r a[r, c];  acc[ch + c] += Σ_r a[r, c]·(b[r, c] − mean[c]).
  (func (export "col_sum_dot_centered") (param $a i32) (param $b i32) (param $mean i32) (param $rows i32) (param $ch i32) (param $acc i32)
    (local $rowBytes i32) (local $end i32) (local $c i32) (local $p i32) (local $va v128) (local $acc2 i32)
    (local.set $rowBytes (i32.shl (local.get $ch) (i32.const 2)))
    (local.set $acc2 (i32.add (local.get $acc) (local.get $rowBytes)))
    (local.set $end (i32.add (local.get $a) (i32.mul (local.get $rows) (local.get $rowBytes))))
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $a) (local.get $end)))
        (local.set $c (i32.const 0))
        (block $rowDone
          (loop $chunk
            (br_if $rowDone (i32.ge_u (local.get $c) (local.get $rowBytes)))
            (local.set $va (v128.load (i32.add (local.get $a) (local.get $c))))
            (local.set $p (i32.add (local.get $acc) (local.get $c)))
            (v128.store (local.get $p) (f32x4.add (v128.load (local.get $p)) (local.get $va)))
            (local.set $p (i32.add (local.get $acc2) (local.get $c)))
            (v128.store (local.get $p)
              (f32x4.add (v128.load (local.get $p))
                (f32x4.mul (local.get $va)
                  (f32x4.sub (v128.load (i32.add (local.get $b) (local.get $c))) (v128.load (i32.add (local.get $mean) (local.get $c)))))))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $chunk)))
        (local.set $a (i32.add (local.get $a) (local.get $rowBytes)))
        (local.set $b (i32.add (local.get $b) (local.get $rowBytes)))
        (br $row))))

  ;; acc[c] += Σ_r (x[r, c] − mean[c])².
  (func (export "col_sq_centered") (param $x i32) (param $mean i32) (param $rows i32) (param $ch i32) (param $acc i32)
    (local $rowBytes i32) (local $end i32) (local $c i32) (local $p i32) (local $d v128)
    (local.set $rowBytes (i32.shl (local.get $ch) (i32.const 2)))
    (local.set $end (i32.add (local.get $x) (i32.mul (local.get $rows) (local.get $rowBytes))))
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (local.set $c (i32.const 0))
        (block $rowDone
          (loop $chunk
            (br_if $rowDone (i32.ge_u (local.get $c) (local.get $rowBytes)))
            (local.set $d (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $c))) (v128.load (i32.add (local.get $mean) (local.get $c)))))
            (local.set $p (i32.add (local.get $acc) (local.get $c)))
            (v128.store (local.get $p) (f32x4.add (v128.load (local.get $p)) (f32x4.mul (local.get $d) (local.get $d))))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $chunk)))
        (local.set $x (i32.add (local.get $x) (local.get $rowBytes)))
        (br $row))))

  ;; MaxPool's gradient over NHWC x, window fh×fw, stride sh×sw, padding top/left: each dy value goes to the
  ;; first maximum of its window (as the cpu backend does), added into dx, which the caller zeroes. Four
  ;; channels per step; `geom` points to 12 i32: batch, inH, inW, ch, outH, outW, fh, fw, sh, sw, top, left.
  (func (export "maxpool_grad") (param $x i32) (param $dy i32) (param $dx i32) (param $geom i32)
    (local $nb i32) (local $inH i32) (local $inW i32) (local $ch i32) (local $outH i32) (local $outW i32)
    (local $fh i32) (local $fw i32) (local $sh i32) (local $sw i32) (local $top i32) (local $left i32)
    (local $b i32) (local $oy i32) (local $ox i32) (local $ky i32) (local $kx i32) (local $iy i32) (local $ix i32)
    (local $c i32) (local $base i32) (local $g i32) (local $at i32)
    (local $best v128) (local $bestAt v128) (local $v v128) (local $m v128) (local $lanes v128)
    (local.set $nb (i32.load offset=0 (local.get $geom)))
    (local.set $inH (i32.load offset=4 (local.get $geom)))
    (local.set $inW (i32.load offset=8 (local.get $geom)))
    (local.set $ch (i32.load offset=12 (local.get $geom)))
    (local.set $outH (i32.load offset=16 (local.get $geom)))
    (local.set $outW (i32.load offset=20 (local.get $geom)))
    (local.set $fh (i32.load offset=24 (local.get $geom)))
    (local.set $fw (i32.load offset=28 (local.get $geom)))
    (local.set $sh (i32.load offset=32 (local.get $geom)))
    (local.set $sw (i32.load offset=36 (local.get $geom)))
    (local.set $top (i32.load offset=40 (local.get $geom)))
    (local.set $left (i32.load offset=44 (local.get $geom)))
    (local.set $lanes (v128.const i32x4 0 1 2 3))
    (local.set $g (i32.const 0)) ;; element index into dy, in output order
    (local.set $b (i32.const 0))
    (block $bDone (loop $bLoop
      (br_if $bDone (i32.ge_s (local.get $b) (local.get $nb)))
      (local.set $oy (i32.const 0))
      (block $oyDone (loop $oyLoop
        (br_if $oyDone (i32.ge_s (local.get $oy) (local.get $outH)))
        (local.set $ox (i32.const 0))
        (block $oxDone (loop $oxLoop
          (br_if $oxDone (i32.ge_s (local.get $ox) (local.get $outW)))
          (local.set $c (i32.const 0))
          (block $cDone (loop $cLoop
            (br_if $cDone (i32.ge_s (local.get $c) (local.get $ch)))
            (local.set $best (f32x4.splat (f32.const -inf)))
            (local.set $bestAt (i32x4.splat (i32.const -1)))
            (local.set $ky (i32.const 0))
            (block $kyDone (loop $kyLoop
              (br_if $kyDone (i32.ge_s (local.get $ky) (local.get $fh)))
              (local.set $iy (i32.add (i32.sub (i32.mul (local.get $oy) (local.get $sh)) (local.get $top)) (local.get $ky)))
              (if (i32.and (i32.ge_s (local.get $iy) (i32.const 0)) (i32.lt_s (local.get $iy) (local.get $inH)))
                (then
                  (local.set $kx (i32.const 0))
                  (block $kxDone (loop $kxLoop
                    (br_if $kxDone (i32.ge_s (local.get $kx) (local.get $fw)))
                    (local.set $ix (i32.add (i32.sub (i32.mul (local.get $ox) (local.get $sw)) (local.get $left)) (local.get $kx)))
                    (if (i32.and (i32.ge_s (local.get $ix) (i32.const 0)) (i32.lt_s (local.get $ix) (local.get $inW)))
                      (then
                        ;; element index of x[b, iy, ix, c]
                        (local.set $base (i32.add (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $inH)) (local.get $iy)) (local.get $inW)) (local.get $ix)) (local.get $ch)) (local.get $c)))
                        (local.set $v (v128.load (i32.add (local.get $x) (i32.shl (local.get $base) (i32.const 2)))))
                        (local.set $m (f32x4.gt (local.get $v) (local.get $best)))
                        (local.set $best (v128.bitselect (local.get $v) (local.get $best) (local.get $m)))
                        (local.set $bestAt (v128.bitselect (i32x4.add (i32x4.splat (local.get $base)) (local.get $lanes)) (local.get $bestAt) (local.get $m)))))
                    (local.set $kx (i32.add (local.get $kx) (i32.const 1)))
                    (br $kxLoop)))))
              (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
              (br $kyLoop)))
            ;; scatter the four dy values to their maxima
            (local.set $at (i32x4.extract_lane 0 (local.get $bestAt)))
            (if (i32.ge_s (local.get $at) (i32.const 0)) (then (call $addAt (local.get $dx) (local.get $at) (local.get $dy) (local.get $g))))
            (local.set $at (i32x4.extract_lane 1 (local.get $bestAt)))
            (if (i32.ge_s (local.get $at) (i32.const 0)) (then (call $addAt (local.get $dx) (local.get $at) (local.get $dy) (i32.add (local.get $g) (i32.const 1)))))
            (local.set $at (i32x4.extract_lane 2 (local.get $bestAt)))
            (if (i32.ge_s (local.get $at) (i32.const 0)) (then (call $addAt (local.get $dx) (local.get $at) (local.get $dy) (i32.add (local.get $g) (i32.const 2)))))
            (local.set $at (i32x4.extract_lane 3 (local.get $bestAt)))
            (if (i32.ge_s (local.get $at) (i32.const 0)) (then (call $addAt (local.get $dx) (local.get $at) (local.get $dy) (i32.add (local.get $g) (i32.const 3)))))
            (local.set $g (i32.add (local.get $g) (i32.const 4)))
            (local.set $c (i32.add (local.get $c) (i32.const 4)))
            (br $cLoop)))
          (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
          (br $oxLoop)))
        (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
        (br $oyLoop)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bLoop))))

  ;; dx[at] += dy[g] (element indices).
  (func $addAt (param $dx i32) (param $at i32) (param $dy i32) (param $g i32)
    (local $p i32)
    (local.set $p (i32.add (local.get $dx) (i32.shl (local.get $at) (i32.const 2))))
    (f32.store (local.get $p) (f32.add (f32.load (local.get $p)) (f32.load (i32.add (local.get $dy) (i32.shl (local.get $g) (i32.const 2)))))))

  ;; out = max(x, 0) over n floats (n a multiple of 4).
  (func (export "relu") (param $x i32) (param $out i32) (param $n i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $out) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $chunk
        (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
        (v128.store (local.get $out) (f32x4.max (v128.load (local.get $x)) (f32x4.splat (f32.const 0))))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (br $chunk))))

  ;; out = x > 0 ? dy : 0 over n floats (n a multiple of 4): relu's gradient in one pass.
  (func (export "relu_grad") (param $dy i32) (param $x i32) (param $out i32) (param $n i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $out) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $chunk
        (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
        (v128.store (local.get $out)
          (v128.and (v128.load (local.get $dy)) (f32x4.gt (v128.load (local.get $x)) (f32x4.splat (f32.const 0)))))
        (local.set $dy (i32.add (local.get $dy) (i32.const 16)))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (br $chunk))))

  ;; One Adam step over n floats (n a multiple of 4), written to new buffers, in the order of tfjs's own
  ;; AdamOptimizer so the results are the same floats:
  ;;   m' = m·b1 + g·(1 − b1);  v' = v·b2 + g²·(1 − b2);  w' = (m'/c1) / (√(v'/c2) + eps) · (−lr) + w
  (func (export "adam") (param $w i32) (param $m i32) (param $v i32) (param $g i32) (param $ow i32) (param $om i32) (param $ov i32) (param $n i32)
    (param $b1 f32) (param $nb1 f32) (param $b2 f32) (param $nb2 f32) (param $c1 f32) (param $c2 f32) (param $nlr f32) (param $eps f32)
    (local $i i32) (local $end i32) (local $g4 v128) (local $m4 v128) (local $v4 v128)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $done
      (loop $chunk
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $g4 (v128.load (i32.add (local.get $g) (local.get $i))))
        (local.set $m4 (f32x4.add (f32x4.mul (v128.load (i32.add (local.get $m) (local.get $i))) (f32x4.splat (local.get $b1)))
                                  (f32x4.mul (local.get $g4) (f32x4.splat (local.get $nb1)))))
        (local.set $v4 (f32x4.add (f32x4.mul (v128.load (i32.add (local.get $v) (local.get $i))) (f32x4.splat (local.get $b2)))
                                  (f32x4.mul (f32x4.mul (local.get $g4) (local.get $g4)) (f32x4.splat (local.get $nb2)))))
        (v128.store (i32.add (local.get $om) (local.get $i)) (local.get $m4))
        (v128.store (i32.add (local.get $ov) (local.get $i)) (local.get $v4))
        (v128.store (i32.add (local.get $ow) (local.get $i))
          (f32x4.add
            (f32x4.mul
              (f32x4.div (f32x4.div (local.get $m4) (f32x4.splat (local.get $c1)))
                         (f32x4.add (f32x4.sqrt (f32x4.div (local.get $v4) (f32x4.splat (local.get $c2)))) (f32x4.splat (local.get $eps))))
              (f32x4.splat (local.get $nlr)))
            (v128.load (i32.add (local.get $w) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $chunk))))
)
