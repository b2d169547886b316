;; Per-channel elementwise kernels with 128-bit SIMD, run on the tfjs wasm backend's own heap (the memory is
;; imported), for the training passes that JavaScript loops made slow: batch-norm statistics and gradients,
;; leading-axis sums. npm run build assembles this file (scripts/assemble-wasm.mjs); wasm-simd.ts loads it.
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
)
