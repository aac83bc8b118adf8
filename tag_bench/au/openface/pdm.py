"""OpenFace's point distribution model (PDM) and its fit to 2-D landmarks (``PDM::CalcParams``).

A 3-D face shape is ``mean + V p`` (``p``: the m non-rigid "local" parameters); it appears in the
image under a weak-perspective projection with the rigid "global" parameters ``(s, rx, ry, rz, tx,
ty)``: ``x = s * R[:2] @ shape + t``, ``R = Rx Ry Rz`` from the Euler angles (OpenFace's
``Euler2RotationMatrix``). ``fit`` finds both parameter sets for 68 landmarks as OpenFace does:
start from the landmarks' bounding box (scale from the mean shape's box, no rotation, the box centre
as translation), then Gauss-Newton steps on the landmark error with a Tikhonov term ``p_i^2 /
eigenvalue_i`` on the non-rigid parameters, each step damped by 0.75, rotations composed through a
small-angle update, stopping after the third iteration that improved the error by less than 0.1 %
(or 1,000 iterations). OpenFace computes in float32; this is float64, which changes the result only
in the last digits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tag_bench.au.openface.files import PDMData


def euler_to_rotation(euler: np.ndarray | tuple[float, float, float]) -> np.ndarray:
    """``R = Rx(a) Ry(b) Rz(c)`` for Euler angles (a, b, c) = (pitch, yaw, roll) in radians."""
    s1, s2, s3 = np.sin(euler)
    c1, c2, c3 = np.cos(euler)
    return np.array(
        [
            [c2 * c3, -c2 * s3, s2],
            [c1 * s3 + c3 * s1 * s2, c1 * c3 - s1 * s2 * s3, -c2 * s1],
            [s1 * s3 - c1 * c3 * s2, c3 * s1 + c1 * s2 * s3, c1 * c2],
        ]
    )


def rotation_to_euler(rot: np.ndarray) -> np.ndarray:
    """(pitch, yaw, roll) of a rotation matrix, through its quaternion (inverse of ``euler_to_rotation``)."""
    q0 = np.sqrt(max(1.0 + rot[0, 0] + rot[1, 1] + rot[2, 2], 1e-12)) / 2.0
    q1 = (rot[2, 1] - rot[1, 2]) / (4.0 * q0)
    q2 = (rot[0, 2] - rot[2, 0]) / (4.0 * q0)
    q3 = (rot[1, 0] - rot[0, 1]) / (4.0 * q0)
    yaw = np.arcsin(np.clip(2.0 * (q0 * q2 + q1 * q3), -1.0, 1.0))
    pitch = np.arctan2(2.0 * (q0 * q1 - q2 * q3), q0 * q0 - q1 * q1 - q2 * q2 + q3 * q3)
    roll = np.arctan2(2.0 * (q0 * q3 - q1 * q2), q0 * q0 + q1 * q1 - q2 * q2 - q3 * q3)
    return np.array([pitch, yaw, roll])


def _orthonormalise(rot: np.ndarray) -> np.ndarray:
    u, _, vt = np.linalg.svd(rot)
    w = np.eye(3)
    w[2, 2] = np.linalg.det(u @ vt)
    return u @ w @ vt


@dataclass(frozen=True)
class PDMFit:
    """Rigid (s, rx, ry, rz, tx, ty) and non-rigid parameters of a fit, and its landmark error."""

    params_global: np.ndarray  # (6,)
    params_local: np.ndarray  # (m,)
    rms_error: float  # root-mean-square distance of the model's landmarks to the given ones, px
    iterations: int


class PDM:
    """A point distribution model read from OpenFace's PDM file (``files.read_pdm``)."""

    def __init__(self, data: PDMData):
        self.mean_shape = np.asarray(data.mean_shape, dtype=np.float64)
        self.princ_comp = np.asarray(data.princ_comp, dtype=np.float64)
        self.eigen_values = np.asarray(data.eigen_values, dtype=np.float64)
        self.n_points = self.mean_shape.size // 3
        self.n_modes = self.princ_comp.shape[1]

    def shape3d(self, params_local: np.ndarray) -> np.ndarray:
        """(3, n): the x, y, z rows of ``mean + V p``."""
        return (self.mean_shape + self.princ_comp @ params_local).reshape(3, self.n_points)

    def shape2d(self, params_local: np.ndarray, params_global: np.ndarray) -> np.ndarray:
        """(n, 2) landmarks of the model under the given parameters."""
        s, tx, ty = params_global[0], params_global[4], params_global[5]
        rot = euler_to_rotation(params_global[1:4])
        return (s * (rot[:2] @ self.shape3d(params_local)) + np.array([[tx], [ty]])).T

    def _jacobian(self, params_local: np.ndarray, params_global: np.ndarray) -> np.ndarray:
        """(2n, 6+m): rows are the x then the y of each landmark (``PDM::ComputeJacobian``)."""
        n, m = self.n_points, self.n_modes
        s = params_global[0]
        r = euler_to_rotation(params_global[1:4])
        x, y, z = self.shape3d(params_local)
        vx, vy, vz = self.princ_comp[:n], self.princ_comp[n : 2 * n], self.princ_comp[2 * n :]
        jac = np.empty((2 * n, 6 + m))
        for row, (a, b, c) in ((slice(0, n), r[0]), (slice(n, 2 * n), r[1])):
            jac[row, 0] = x * a + y * b + z * c
            jac[row, 6:] = s * (a * vx + b * vy + c * vz)
        jac[:n, 1] = s * (y * r[0, 2] - z * r[0, 1])
        jac[n:, 1] = s * (y * r[1, 2] - z * r[1, 1])
        jac[:n, 2] = -s * (x * r[0, 2] - z * r[0, 0])
        jac[n:, 2] = -s * (x * r[1, 2] - z * r[1, 0])
        jac[:n, 3] = s * (x * r[0, 1] - y * r[0, 0])
        jac[n:, 3] = s * (x * r[1, 1] - y * r[1, 0])
        jac[:n, 4], jac[n:, 4] = 1.0, 0.0
        jac[:n, 5], jac[n:, 5] = 0.0, 1.0
        return jac

    @staticmethod
    def _update(delta: np.ndarray, params_local: np.ndarray, params_global: np.ndarray) -> None:
        """``PDM::UpdateModelParameters``, in place."""
        params_global[0] += delta[0]
        params_global[4] += delta[4]
        params_global[5] += delta[5]
        small = np.eye(3)
        small[2, 1], small[1, 2] = delta[1], -delta[1]
        small[0, 2], small[2, 0] = delta[2], -delta[2]
        small[1, 0], small[0, 1] = delta[3], -delta[3]
        rot = euler_to_rotation(params_global[1:4]) @ _orthonormalise(small)
        params_global[1:4] = rotation_to_euler(rot)
        params_local += delta[6:]

    def fit(self, landmarks: np.ndarray, max_iterations: int = 1000) -> PDMFit:
        """Rigid and non-rigid parameters for (n, 2) landmarks (``PDM::CalcParams``)."""
        pts = np.asarray(landmarks, dtype=np.float64)
        if pts.shape != (self.n_points, 2) or not np.all(np.isfinite(pts)):
            raise ValueError(f"expected {self.n_points} finite (x, y) landmarks, got shape {pts.shape}")
        n, m = self.n_points, self.n_modes
        target = np.concatenate([pts[:, 0], pts[:, 1]])  # x's then y's, as OpenFace stores them
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        width, height = hi - lo
        mean_xy = self.mean_shape.reshape(3, n)[:2]
        model_w, model_h = np.ptp(mean_xy[0]), np.ptp(mean_xy[1])
        scale = (width / model_w + height / model_h) / 2.0
        params_global = np.array([scale, 0.0, 0.0, 0.0, (lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0])
        params_local = np.zeros(m)

        def projected(shape3: np.ndarray) -> np.ndarray:
            rot = euler_to_rotation(params_global[1:4])
            xy = params_global[0] * (rot[:2] @ shape3) + params_global[4:6, None]
            return np.concatenate([xy[0], xy[1]])

        error = float(np.linalg.norm(projected(self.shape3d(params_local)) - target))
        reg = np.zeros(6 + m)
        reg[6:] = 1.0 / self.eigen_values
        not_improved = 0
        iterations = 0
        for iterations in range(1, max_iterations + 1):  # noqa: B007 (the count is reported)
            shape3 = self.shape3d(params_local)
            residual = target - projected(shape3)
            jac = self._jacobian(params_local, params_global)
            gradient = jac.T @ residual
            gradient[6:] -= reg[6:] * params_local
            hessian = jac.T @ jac + np.diag(reg)
            delta = 0.75 * np.linalg.solve(hessian, gradient)
            self._update(delta, params_local, params_global)
            # OpenFace measures the new error with the new pose but the shape of the step's start
            new_error = float(np.linalg.norm(projected(shape3) - target))
            if 0.999 * error < new_error:
                not_improved += 1
                if not_improved == 3:
                    break
            error = new_error
        rms = float(np.sqrt(np.mean(np.sum((self.shape2d(params_local, params_global) - pts) ** 2, axis=1))))
        return PDMFit(params_global, params_local, rms, iterations)
