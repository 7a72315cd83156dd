;; SIMD kernels of the coordinator's step (WebAssembly SIMD, 4 float32 lanes), over float32
;; arrays in this module's memory. Byte offsets; lengths in values, rounded up to a multiple of 4
;; by the caller (the arrays are padded with zeros). scaleInto and addScaled return the sum of
;; squares of g (float32 lanes, for the gradient's norm; +Infinity when it overflows), or NaN
;; when a value of g is NaN or ±Infinity (v - v is 0 for finite values, NaN otherwise); sgdMomentum
;; returns 1 when every new weight is finite, else 0.
;; Arithmetic is float32, each operation rounded (no fused multiply-add), so the results are the
;; same on every machine. Assemble with `npm run build:kernels` (wabt's wat2wasm).
(module
  (memory (export "memory") 1)

  ;; out[i] = g[i] * s; returns sum(g[i]^2), NaN when g is not all finite
  (func (export "scaleInto") (param $out i32) (param $g i32) (param $n i32) (param $s f32) (result f32)
    (local $i i32) (local $end i32) (local $v v128) (local $bad v128) (local $sv v128) (local $sq v128)
    (local.set $sv (f32x4.splat (local.get $s)))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $v (v128.load (i32.add (local.get $g) (local.get $i))))
        (local.set $bad (f32x4.add (local.get $bad) (f32x4.sub (local.get $v) (local.get $v))))
        (local.set $sq (f32x4.add (local.get $sq) (f32x4.mul (local.get $v) (local.get $v))))
        (v128.store (i32.add (local.get $out) (local.get $i)) (f32x4.mul (local.get $v) (local.get $sv)))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next)))
    (call $sumOrNaN (local.get $sq) (local.get $bad)))

  ;; out[i] = out[i] + g[i] * s; returns sum(g[i]^2), NaN when g is not all finite
  (func (export "addScaled") (param $out i32) (param $g i32) (param $n i32) (param $s f32) (result f32)
    (local $i i32) (local $end i32) (local $v v128) (local $bad v128) (local $sv v128) (local $o i32) (local $sq v128)
    (local.set $sv (f32x4.splat (local.get $s)))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $v (v128.load (i32.add (local.get $g) (local.get $i))))
        (local.set $bad (f32x4.add (local.get $bad) (f32x4.sub (local.get $v) (local.get $v))))
        (local.set $o (i32.add (local.get $out) (local.get $i)))
        (local.set $sq (f32x4.add (local.get $sq) (f32x4.mul (local.get $v) (local.get $v))))
        (v128.store (local.get $o) (f32x4.add (v128.load (local.get $o)) (f32x4.mul (local.get $v) (local.get $sv))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next)))
    (call $sumOrNaN (local.get $sq) (local.get $bad)))

  ;; The four lanes of $sq summed, or NaN when a lane of $bad is NaN (a value was not finite).
  (func $sumOrNaN (param $sq v128) (param $bad v128) (result f32)
    (if (result f32) (v128.any_true (f32x4.ne (local.get $bad) (local.get $bad)))
      (then (f32.const nan))
      (else
        (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $sq)) (f32x4.extract_lane 1 (local.get $sq)))
          (f32.add (f32x4.extract_lane 2 (local.get $sq)) (f32x4.extract_lane 3 (local.get $sq)))))))

  ;; SGD with momentum, torch.optim.SGD's formulas: g' = g + wd * w; b = mu * b + g';
  ;; w = w - lr * (nesterov ? g' + mu * b : b). In place on w and b; checks the new w.
  (func (export "sgdMomentum") (param $w i32) (param $b i32) (param $g i32) (param $n i32)
        (param $lr f32) (param $mu f32) (param $wd f32) (param $nesterov i32) (result i32)
    (local $i i32) (local $end i32) (local $wv v128) (local $gv v128) (local $bv v128) (local $bad v128)
    (local $lrv v128) (local $muv v128) (local $wdv v128) (local $step v128)
    (local.set $lrv (f32x4.splat (local.get $lr)))
    (local.set $muv (f32x4.splat (local.get $mu)))
    (local.set $wdv (f32x4.splat (local.get $wd)))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $wv (v128.load (i32.add (local.get $w) (local.get $i))))
        (local.set $gv (f32x4.add (v128.load (i32.add (local.get $g) (local.get $i))) (f32x4.mul (local.get $wdv) (local.get $wv))))
        (local.set $bv (f32x4.add (f32x4.mul (local.get $muv) (v128.load (i32.add (local.get $b) (local.get $i)))) (local.get $gv)))
        (v128.store (i32.add (local.get $b) (local.get $i)) (local.get $bv))
        (local.set $step
          (if (result v128) (local.get $nesterov)
            (then (f32x4.add (local.get $gv) (f32x4.mul (local.get $muv) (local.get $bv))))
            (else (local.get $bv))))
        (local.set $wv (f32x4.sub (local.get $wv) (f32x4.mul (local.get $lrv) (local.get $step))))
        (v128.store (i32.add (local.get $w) (local.get $i)) (local.get $wv))
        (local.set $bad (f32x4.add (local.get $bad) (f32x4.sub (local.get $wv) (local.get $wv))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next)))
    (i32.eqz (v128.any_true (f32x4.ne (local.get $bad) (local.get $bad)))))
)
