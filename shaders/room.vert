#version 330
// Clinic room: static, vertex-coloured geometry (colours are linear RGB).

uniform mat4 p3d_ModelViewProjectionMatrix;
uniform mat4 p3d_ModelMatrixInverseTranspose;

in vec4 p3d_Vertex;
in vec3 p3d_Normal;
in vec4 p3d_Color;

out vec3 v_world_normal;
out vec4 v_color;

void main() {
    v_world_normal = mat3(p3d_ModelMatrixInverseTranspose) * p3d_Normal;
    v_color = p3d_Color;
    gl_Position = p3d_ModelViewProjectionMatrix * p3d_Vertex;
}
