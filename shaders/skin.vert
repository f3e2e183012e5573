#version 330
// Skinned limb: Panda3D hardware skinning. Applied with ShaderAttrib.F_hardware_skinning
// so Panda fills p3d_TransformTable with each joint's skinning matrix and converts the
// glTF joint weights into the transform_index / transform_weight vertex columns.

#define MAX_JOINTS 48

uniform mat4 p3d_ModelViewProjectionMatrix;
uniform mat4 p3d_ModelMatrix;
uniform mat4 p3d_ModelMatrixInverseTranspose;
uniform mat4 p3d_TransformTable[MAX_JOINTS];

// Limb root and unit axis in the model's REST pose (pre-skinning) coordinates: the
// distance along the limb feeds the stump blend. Arm and leg: root at the origin, axis -Z.
uniform vec3 limb_root;
uniform vec3 limb_axis;

in vec4 p3d_Vertex;
in vec3 p3d_Normal;
in vec2 p3d_MultiTexCoord0;
in vec4 transform_weight;
in uvec4 transform_index;

out vec3 v_world_pos;
out vec3 v_world_normal;
out vec2 v_uv;
out float v_limb_distance;

void main() {
    mat4 skin = p3d_TransformTable[transform_index.x] * transform_weight.x
              + p3d_TransformTable[transform_index.y] * transform_weight.y
              + p3d_TransformTable[transform_index.z] * transform_weight.z
              + p3d_TransformTable[transform_index.w] * transform_weight.w;
    vec4 model_pos = skin * p3d_Vertex;
    vec3 model_normal = mat3(skin) * p3d_Normal;

    v_uv = p3d_MultiTexCoord0;
    v_limb_distance = dot(p3d_Vertex.xyz - limb_root, limb_axis);
    v_world_pos = (p3d_ModelMatrix * model_pos).xyz;
    v_world_normal = mat3(p3d_ModelMatrixInverseTranspose) * model_normal;
    gl_Position = p3d_ModelViewProjectionMatrix * model_pos;
}
