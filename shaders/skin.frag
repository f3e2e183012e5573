#version 330
// Skin shading for the virtual limb, and the stump blend (see docs/rendering.md).
// The limb's maps (docs/limb-rigs.md): base_map RGB = detail factor on the tone (creases,
// veins, nails), A = palmar/plantar mask; normal_map RGB = tangent-space normal, A = nail
// mask. The tangent frame comes from screen-space derivatives, so a mirrored (left) limb
// needs nothing special.

#pragma include "lighting.glsl"

uniform mat4 p3d_ViewMatrixInverse;
uniform vec4 p3d_ColorScale;

uniform sampler2D base_map;
uniform sampler2D normal_map;

uniform vec3 skin_tone;          // linear RGB; with lighting = 0 it is drawn exactly
uniform vec3 palm_tone;          // palms and soles (lighter, per tone: vrgmi.assets.skin_tones)
uniform vec3 nail_tone;          // nail plates (vrgmi.assets.skin_tones.nail_color)
uniform float lighting;          // 1: lit; 0: flat tone (tests, calibration views)
uniform float wrap;              // diffuse wrap, 0.5 = half-Lambert-like softness
uniform vec3 scatter_color;      // subsurface-like warmth in the terminator (linear)
uniform float scatter_strength;
uniform vec3 rim_color;          // gentle rim light (linear)
uniform float rim_strength;
uniform float normal_strength;   // 0: the smooth mesh normal, 1: the full normal map
uniform float specular;          // skin's specular reflectance at normal incidence (~0.028)
uniform float gloss;             // Blinn-Phong exponent of the skin's sheen

// Stump blend, along the rest-pose limb axis (metres from the limb root).
uniform float stump_distance;    // where the residual limb ends
uniform float stump_blend_width; // the band beyond it over which the phantom fades in
uniform float residual_alpha;    // the residual part (stands for the patient's own limb)
uniform float phantom_alpha;     // the phantom part beyond the band

// View fade (laterality pictures): the limb fades out across a cone seen from an eye, so a
// leg running out of the picture dissolves at its edge. Off with view_fade_cos (-1, -2).
uniform vec3 view_fade_apex;     // the eye (world)
uniform vec3 view_fade_axis;     // the cone's axis (world, unit)
uniform vec2 view_fade_cos;      // cos of the angles off the axis where it starts, ends

in vec3 v_world_pos;
in vec3 v_world_normal;
in vec2 v_uv;
in float v_limb_distance;

out vec4 o_color;

float stump_alpha(float d) {
    float t = stump_blend_width > 0.0
        ? smoothstep(0.0, 1.0, (d - stump_distance) / stump_blend_width)
        : step(stump_distance, d);
    return mix(residual_alpha, phantom_alpha, t);
}

// Tangent frame from derivatives (Schueler 2013): T along +u, B along +v, N the normal.
vec3 mapped_normal(vec3 n, vec3 p, vec2 uv, vec3 tangent_normal) {
    vec3 dp1 = dFdx(p), dp2 = dFdy(p);
    vec2 duv1 = dFdx(uv), duv2 = dFdy(uv);
    vec3 dp2perp = cross(dp2, n);
    vec3 dp1perp = cross(n, dp1);
    vec3 t = dp2perp * duv1.x + dp1perp * duv2.x;
    vec3 b = dp2perp * duv1.y + dp1perp * duv2.y;
    float scale = max(dot(t, t), dot(b, b));
    if (scale < 1e-20) {
        return n;
    }
    scale = inversesqrt(scale);
    vec3 ts = vec3(tangent_normal.xy * normal_strength, tangent_normal.z);
    return normalize(mat3(t * scale, b * scale, n) * ts);
}

void main() {
    vec4 base = texture(base_map, v_uv);
    vec4 nrm = texture(normal_map, v_uv);
    float nail = nrm.a;
    vec3 albedo = mix(mix(skin_tone, palm_tone, base.a), nail_tone, nail) * base.rgb;

    vec3 n0 = normalize(v_world_normal);
    vec3 n = mapped_normal(n0, v_world_pos, v_uv, nrm.rgb * 2.0 - 1.0);
    vec3 camera_pos = p3d_ViewMatrixInverse[3].xyz;
    vec3 v = normalize(camera_pos - v_world_pos);
    vec3 l = normalize(key_light_dir);
    float n_dot_l = dot(n, l);

    vec3 diffuse = key_light_color * wrap_diffuse(n_dot_l, wrap);
    // light that enters where the surface turns away and comes back out reddened: peaks
    // at the terminator, gone in the full light and (smoothly) deep on the far side
    float terminator = 1.0 - abs(dot(n0, l));
    vec3 scatter = scatter_color * key_light_color * (scatter_strength * terminator
                 * terminator * smoothstep(-0.7, -0.1, dot(n0, l)));
    float rim = rim_strength * pow(1.0 - clamp(dot(n0, v), 0.0, 1.0), 3.0);
    // sheen: normalised Blinn-Phong with Schlick's Fresnel; the nail plates are glossier
    vec3 h = normalize(l + v);
    float g = mix(gloss, 4.0 * gloss, nail);
    float fresnel = specular + (1.0 - specular) * pow(1.0 - clamp(dot(h, v), 0.0, 1.0), 5.0);
    float sheen = fresnel * (g + 8.0) / 25.13 * pow(max(dot(n, h), 0.0), g)
                * max(n_dot_l, 0.0);

    vec3 lit = albedo * (hemisphere_ambient(n) + diffuse + scatter) + rim_color * rim
             + key_light_color * sheen;
    vec3 rgb = mix(skin_tone, lit, lighting) * p3d_ColorScale.rgb;
    vec3 seen = v_world_pos - view_fade_apex;
    float in_view = smoothstep(view_fade_cos.y, view_fade_cos.x,
                               dot(seen, view_fade_axis) / max(length(seen), 1e-6));
    o_color = output_color(rgb, stump_alpha(v_limb_distance) * in_view * p3d_ColorScale.a);
}
