/* input.c - actions and bindings, hand tracking, vive trackers, and the event script. */
#include "xrt.h"

#include <stdio.h>
#include <stdlib.h>

#define TRACKER_PROFILE "/interaction_profiles/htc/vive_tracker_htcx"
#define TRACKER_USER "/user/vive_tracker_htcx/role/"

/* ---- interaction profiles --------------------------------------------------------------- */
/* Inputs per profile: "l:"/"r:" entries exist on that hand only. A binding may also name an
 * input's parent ("input/trigger", "input/thumbstick"), as the specification allows. `needs`:
 * what must be enabled for an instance to use the profile (0: core in OpenXR 1.0; the hp and
 * pico profiles are core in 1.1, else they need their extension). On 1.1 every hand profile
 * also has input/grip_surface/pose (the grip here). */
static const struct {
    const char *path, *inputs;
    unsigned needs;
} profiles[] = {
    {"/interaction_profiles/khr/simple_controller",
     "input/select/click input/menu/click input/grip/pose input/aim/pose output/haptic", 0},
    {"/interaction_profiles/oculus/touch_controller",
     "l:input/x/click l:input/x/touch l:input/y/click l:input/y/touch l:input/menu/click "
     "r:input/a/click r:input/a/touch r:input/b/click r:input/b/touch r:input/system/click "
     "input/squeeze/value input/trigger/value input/trigger/touch input/thumbstick/x "
     "input/thumbstick/y input/thumbstick/click input/thumbstick/touch input/thumbrest/touch "
     "input/grip/pose input/aim/pose output/haptic", 0},
    {"/interaction_profiles/valve/index_controller",
     "input/system/click input/system/touch input/a/click input/a/touch input/b/click "
     "input/b/touch input/squeeze/value input/squeeze/force input/trigger/click "
     "input/trigger/value input/trigger/touch input/thumbstick/x input/thumbstick/y "
     "input/thumbstick/click input/thumbstick/touch input/trackpad/x input/trackpad/y "
     "input/trackpad/force input/trackpad/touch input/grip/pose input/aim/pose output/haptic", 0},
    {"/interaction_profiles/htc/vive_controller",
     "input/system/click input/squeeze/click input/menu/click input/trigger/click "
     "input/trigger/value input/trackpad/x input/trackpad/y input/trackpad/click "
     "input/trackpad/touch input/grip/pose input/aim/pose output/haptic", 0},
    {"/interaction_profiles/microsoft/motion_controller",
     "input/menu/click input/squeeze/click input/trigger/value input/thumbstick/x "
     "input/thumbstick/y input/thumbstick/click input/trackpad/x input/trackpad/y "
     "input/trackpad/click input/trackpad/touch input/grip/pose input/aim/pose output/haptic", 0},
    {"/interaction_profiles/hp/mixed_reality_controller",
     "l:input/x/click l:input/y/click r:input/a/click r:input/b/click input/menu/click "
     "input/squeeze/value input/trigger/value input/thumbstick/x input/thumbstick/y "
     "input/thumbstick/click input/grip/pose input/aim/pose output/haptic",
     EXT_HP | API_1_1},
    {"/interaction_profiles/bytedance/pico4_controller",
     "l:input/x/click l:input/x/touch l:input/y/click l:input/y/touch l:input/menu/click "
     "r:input/a/click r:input/a/touch r:input/b/click r:input/b/touch input/system/click "
     "input/trigger/click input/trigger/value input/trigger/touch input/thumbstick/x "
     "input/thumbstick/y input/thumbstick/click input/thumbstick/touch input/squeeze/click "
     "input/squeeze/value input/grip/pose input/aim/pose output/haptic",
     EXT_BD | API_1_1},
    {TRACKER_PROFILE,
     "input/system/click input/menu/click input/trigger/click input/squeeze/click "
     "input/trigger/value input/trackpad/x input/trackpad/y input/trackpad/click "
     "input/trackpad/touch input/grip/pose output/haptic",
     EXT_TRACKER},
};

/* The role index of a /user/vive_tracker_htcx/role/<role>[/...] path, or -1. */
static int tracker_role(const char *path) {
    if (strncmp(path, TRACKER_USER, sizeof TRACKER_USER - 1)) return -1;
    path += sizeof TRACKER_USER - 1;
    for (int r = 0; r < XRT_ROLES; r++) {
        size_t n = strlen(xrt_roles[r]);
        if (!strncmp(path, xrt_roles[r], n) && (path[n] == '/' || !path[n])) return r;
    }
    return -1;
}

/* 0 left, 1 right for /user/hand/<side>[/...], else -1. */
static int hand_side(const char *path) {
    if (!strncmp(path, "/user/hand/left", 15) && (path[15] == '/' || !path[15])) return 0;
    if (!strncmp(path, "/user/hand/right", 16) && (path[16] == '/' || !path[16])) return 1;
    return -1;
}

/* Whether the instance may use `profile` (known, and its extension or API version enabled). */
static int profile_known(const char *profile) {
    for (size_t i = 0; i < sizeof profiles / sizeof profiles[0]; i++)
        if (!strcmp(profiles[i].path, profile))
            return !profiles[i].needs || (rt.enabled & profiles[i].needs);
    return 0;
}

/* Whether `binding` (a full input path) is an input of `profile`. */
static int binding_known(const char *profile, const char *binding) {
    int side = hand_side(binding), tracker = !strcmp(profile, TRACKER_PROFILE);
    if (tracker ? tracker_role(binding) < 0 || !(rt.enabled & EXT_TRACKER) : side < 0)
        return 0;
    const char *c = strchr(binding + (tracker ? sizeof TRACKER_USER : 11), '/');
    if (!c) return 0;
    size_t n = strlen(++c);
    if (!tracker && (rt.enabled & API_1_1) &&
        (!strcmp(c, "input/grip_surface") || !strcmp(c, "input/grip_surface/pose")))
        return profile_known(profile);
    for (size_t i = 0; i < sizeof profiles / sizeof profiles[0]; i++) {
        if (strcmp(profiles[i].path, profile)) continue;
        for (const char *e = profiles[i].inputs; *e;) {
            size_t len = strcspn(e, " ");
            const char *name = e;
            if (e[1] == ':') {
                if ((e[0] == 'l') != (side == 0)) name = NULL;
                else name += 2;
            }
            size_t name_len = name ? (size_t)(e + len - name) : 0;
            if (name_len >= n && !strncmp(name, c, n) && (name_len == n || name[n] == '/'))
                return 1;
            e += len + (e[len] == ' ');
        }
    }
    return 0;
}


/* A binding feeds its action when its device is there: the hands are controllers of the
 * current profile; a tracker role is connected when the replay has it. */
static int binding_live(const Binding *b) {
    const char *s = path_string(b->binding);
    if (hand_side(s) >= 0) return b->profile == rt.hand_profile;
    int role = tracker_role(s);
    return role >= 0 && rt.replay.tracker[role] && !strcmp(path_string(b->profile),
                                                           TRACKER_PROFILE);
}

/* Whether path string `s` lies under the top level user path `user`. */
static int under(const char *s, XrPath user) {
    const char *u = path_string(user);
    size_t n = strlen(u);
    return !strncmp(s, u, n) && (s[n] == '/' || !s[n]);
}

/* ---- action sets and actions ------------------------------------------------------------ */
static int name_valid(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || strchr("-_.", *s)))
            return 0;
    return 1;
}

XrResult xrCreateActionSet(XrInstance instance, const XrActionSetCreateInfo *info,
                           XrActionSet *out) {
    ENTER();
    CHECK(check_instance(instance));
    if (!*info->actionSetName) return XR_ERROR_NAME_INVALID;
    if (!name_valid(info->actionSetName)) return XR_ERROR_PATH_FORMAT_INVALID;
    if (!*info->localizedActionSetName) return XR_ERROR_LOCALIZED_NAME_INVALID;
    for (int i = 0; i < MAX_SETS; i++) {
        if (!rt.sets[i].handle) continue;
        if (!strcmp(rt.sets[i].name, info->actionSetName)) return XR_ERROR_NAME_DUPLICATED;
        if (!strcmp(rt.sets[i].localized, info->localizedActionSetName))
            return XR_ERROR_LOCALIZED_NAME_DUPLICATED;
    }
    ActionSet *s = FREE_SLOT(rt.sets);
    if (!s) return XR_ERROR_LIMIT_REACHED;
    *s = (ActionSet){.handle = new_handle()};
    snprintf(s->name, sizeof s->name, "%s", info->actionSetName);
    snprintf(s->localized, sizeof s->localized, "%s", info->localizedActionSetName);
    *out = (XrActionSet)s->handle;
    return XR_SUCCESS;
}

XrResult xrDestroyActionSet(XrActionSet set) {
    ENTER_ALWAYS();
    ActionSet *s = set ? FIND(rt.sets, set) : NULL;
    if (!s) return XR_ERROR_HANDLE_INVALID;
    for (int i = 0; i < MAX_ACTIONS; i++)
        if (rt.actions[i].handle && rt.actions[i].set == s->handle)
            memset(&rt.actions[i], 0, sizeof rt.actions[i]);
    memset(s, 0, sizeof *s);
    return XR_SUCCESS;
}

/* A top level user path an action may use as subaction path. */
static int user_path_valid(const char *s) {
    if (hand_side(s) >= 0) return !strchr(s + 11, '/');
    if (tracker_role(s) >= 0)
        return (rt.enabled & EXT_TRACKER) && !strchr(s + sizeof TRACKER_USER, '/');
    return !strcmp(s, "/user/head") || !strcmp(s, "/user/gamepad");
}

XrResult xrCreateAction(XrActionSet set, const XrActionCreateInfo *info, XrAction *out) {
    ENTER();
    ActionSet *s = set ? FIND(rt.sets, set) : NULL;
    if (!s) return XR_ERROR_HANDLE_INVALID;
    CHECK(check_instance((XrInstance)rt.instance));
    if (s->attached) return XR_ERROR_ACTIONSETS_ALREADY_ATTACHED;
    if (!*info->actionName) return XR_ERROR_NAME_INVALID;
    if (!name_valid(info->actionName)) return XR_ERROR_PATH_FORMAT_INVALID;
    if (!*info->localizedActionName) return XR_ERROR_LOCALIZED_NAME_INVALID;
    for (int i = 0; i < MAX_ACTIONS; i++) {
        const Action *a = &rt.actions[i];
        if (!a->handle || a->set != s->handle) continue;
        if (!strcmp(a->name, info->actionName)) return XR_ERROR_NAME_DUPLICATED;
        if (!strcmp(a->localized, info->localizedActionName))
            return XR_ERROR_LOCALIZED_NAME_DUPLICATED;
    }
    if (info->countSubactionPaths > XRT_SUB_MAX) return XR_ERROR_LIMIT_REACHED;
    for (uint32_t i = 0; i < info->countSubactionPaths; i++) {
        const char *p = path_string(info->subactionPaths[i]);
        if (!p) return XR_ERROR_PATH_INVALID;
        if (!user_path_valid(p)) return XR_ERROR_PATH_UNSUPPORTED;
        for (uint32_t k = 0; k < i; k++)
            if (info->subactionPaths[k] == info->subactionPaths[i])
                return XR_ERROR_PATH_UNSUPPORTED;
    }
    Action *a = FREE_SLOT(rt.actions);
    if (!a) return XR_ERROR_LIMIT_REACHED;
    *a = (Action){.handle = new_handle(), .set = s->handle, .type = info->actionType,
                  .n_sub = info->countSubactionPaths};
    snprintf(a->name, sizeof a->name, "%s", info->actionName);
    snprintf(a->localized, sizeof a->localized, "%s", info->localizedActionName);
    memcpy(a->sub, info->subactionPaths, a->n_sub * sizeof(XrPath));
    *out = (XrAction)a->handle;
    return XR_SUCCESS;
}

XrResult xrDestroyAction(XrAction action) {
    ENTER_ALWAYS();
    Action *a = action ? FIND(rt.actions, action) : NULL;
    if (!a) return XR_ERROR_HANDLE_INVALID;
    memset(a, 0, sizeof *a);
    return XR_SUCCESS;
}

XrResult xrSuggestInteractionProfileBindings(
    XrInstance instance, const XrInteractionProfileSuggestedBinding *info) {
    ENTER();
    CHECK(check_instance(instance));
    if (rt.session.attached) return XR_ERROR_ACTIONSETS_ALREADY_ATTACHED;
    const char *profile = path_string(info->interactionProfile);
    if (!profile) return XR_ERROR_PATH_INVALID;
    if (!profile_known(profile)) return XR_ERROR_PATH_UNSUPPORTED;
    for (uint32_t i = 0; i < info->countSuggestedBindings; i++) {
        const XrActionSuggestedBinding *sb = &info->suggestedBindings[i];
        if (!sb->action || !FIND(rt.actions, sb->action)) return XR_ERROR_HANDLE_INVALID;
        const char *b = path_string(sb->binding);
        if (!b) return XR_ERROR_PATH_INVALID;
        if (!binding_known(profile, b)) return XR_ERROR_PATH_UNSUPPORTED;
    }
    uint32_t kept = 0; /* a new suggestion replaces the profile's previous one */
    for (uint32_t i = 0; i < rt.n_bindings; i++)
        kept += rt.bindings[i].profile != info->interactionProfile;
    if (kept + info->countSuggestedBindings > MAX_BINDINGS) return XR_ERROR_LIMIT_REACHED;
    kept = 0;
    for (uint32_t i = 0; i < rt.n_bindings; i++)
        if (rt.bindings[i].profile != info->interactionProfile)
            rt.bindings[kept++] = rt.bindings[i];
    rt.n_bindings = kept;
    for (uint32_t i = 0; i < info->countSuggestedBindings; i++)
        rt.bindings[rt.n_bindings++] =
            (Binding){info->interactionProfile, info->suggestedBindings[i].binding,
                      (uint64_t)info->suggestedBindings[i].action};
    return XR_SUCCESS;
}

static int profile_suggested(XrPath profile) {
    for (uint32_t i = 0; i < rt.n_bindings; i++)
        if (rt.bindings[i].profile == profile) return 1;
    return 0;
}

static void profile_changed_event(void) {
    if (!rt.session.attached) return;
    XrEventDataInteractionProfileChanged ev = {XR_TYPE_EVENT_DATA_INTERACTION_PROFILE_CHANGED,
                                               NULL, (XrSession)rt.session.handle};
    push_event(&ev, sizeof ev);
}

XrResult xrAttachSessionActionSets(XrSession session,
                                   const XrSessionActionSetsAttachInfo *info) {
    ENTER();
    CHECK(check_session(session));
    if (rt.session.attached) return XR_ERROR_ACTIONSETS_ALREADY_ATTACHED;
    for (uint32_t i = 0; i < info->countActionSets; i++)
        if (!info->actionSets[i] || !FIND(rt.sets, info->actionSets[i]))
            return XR_ERROR_HANDLE_INVALID;
    for (uint32_t i = 0; i < info->countActionSets; i++)
        FIND(rt.sets, info->actionSets[i])->attached = 1;
    rt.session.attached = 1;
    if (profile_suggested(rt.hand_profile)) profile_changed_event();
    return session_ok(XR_SUCCESS);
}

XrResult xrGetCurrentInteractionProfile(XrSession session, XrPath user,
                                        XrInteractionProfileState *state) {
    ENTER();
    CHECK(check_session(session));
    if (!rt.session.attached) return XR_ERROR_ACTIONSET_NOT_ATTACHED;
    const char *u = path_string(user);
    if (!u) return XR_ERROR_PATH_INVALID;
    if (!user_path_valid(u)) return XR_ERROR_PATH_UNSUPPORTED;
    int role = tracker_role(u);
    XrPath profile = XR_NULL_PATH;
    if (hand_side(u) >= 0) {
        profile = rt.hand_profile;
    } else if (role >= 0 && rt.replay.tracker[role]) {
        XrPath tracker = path_intern(TRACKER_PROFILE);
        for (uint32_t i = 0; i < rt.n_bindings; i++)
            if (rt.bindings[i].profile == tracker && under(path_string(rt.bindings[i].binding),
                                                            user))
                profile = tracker;
    }
    state->interactionProfile = profile && profile_suggested(profile) ? profile : XR_NULL_PATH;
    return session_ok(XR_SUCCESS);
}

/* ---- action state --------------------------------------------------------------------- */
typedef struct {
    float x, y;
    XrTime time; /* when the value last changed (0: unknown) */
} Raw;

static Input *find_input(const char *path) {
    for (uint32_t i = 0; i < rt.n_inputs; i++)
        if (!strcmp(rt.inputs[i].path, path)) return &rt.inputs[i];
    return NULL;
}

/* The scalar value of an input path: the script's value if it set one, else the replay's
 * trigger (also the simple controller's select) or squeeze, else 0. */
static Raw scalar(const char *path) {
    const Input *in = find_input(path);
    if (in) return (Raw){in->value, 0, in->time};
    int side = hand_side(path), i = replay_index(&rt.replay, now_time());
    const char *c = strstr(path, "/input/");
    if (side < 0 || i < 0 || !c) return (Raw){0, 0, 0};
    c += 7;
    const double *channel = NULL;
    if ((!strncmp(c, "trigger", 7) && strcmp(c, "trigger/touch")) || !strcmp(c, "select/click"))
        channel = rt.replay.trigger[side];
    else if (!strncmp(c, "squeeze", 7))
        channel = rt.replay.squeeze[side];
    if (!channel) return (Raw){0, 0, 0};
    float v = (float)channel[i];
    size_t n = strlen(c);
    if (n > 6 && !strcmp(c + n - 6, "/click")) v = v >= 0.5f ? 1.0f : 0.0f;
    return (Raw){v, 0, now_time()};
}

static Raw raw_value(const char *path, XrActionType type) {
    if (type == XR_ACTION_TYPE_VECTOR2F_INPUT) {
        char sub[XR_MAX_PATH_LENGTH + 2];
        snprintf(sub, sizeof sub, "%s/x", path);
        Raw x = scalar(sub);
        snprintf(sub, sizeof sub, "%s/y", path);
        Raw y = scalar(sub);
        return (Raw){x.x, y.x, x.time > y.time ? x.time : y.time};
    }
    if (type == XR_ACTION_TYPE_POSE_INPUT || type == XR_ACTION_TYPE_VIBRATION_OUTPUT)
        return (Raw){0, 0, 0};
    Raw r = scalar(path);
    if (type == XR_ACTION_TYPE_BOOLEAN_INPUT) r.x = r.x >= 0.5f ? 1.0f : 0.0f;
    return r;
}

/* Recomputes one state of `a` from its live bindings; `filter` is the active action set's
 * subaction path (XR_NULL_PATH: all), `active` whether the set is active at all. */
static void update_state(Action *a, int slot, XrPath filter, int active) {
    XrPath sub = slot ? a->sub[slot - 1] : XR_NULL_PATH;
    float x = 0, y = 0;
    int bound = 0;
    XrTime when = 0;
    for (uint32_t i = 0; i < rt.n_bindings && active; i++) {
        const Binding *b = &rt.bindings[i];
        const char *s = path_string(b->binding);
        if (b->action != a->handle || !binding_live(b) || (sub && !under(s, sub)) ||
            (filter && !under(s, filter)))
            continue;
        bound = 1;
        Raw v = raw_value(s, a->type);
        if (a->type == XR_ACTION_TYPE_VECTOR2F_INPUT ? v.x * v.x + v.y * v.y > x * x + y * y
                                                     : fabsf(v.x) > fabsf(x))
            x = v.x, y = v.y;
        if (v.time > when) when = v.time;
    }
    ActionState *st = &a->state[slot];
    int differs = x != st->x || y != st->y;
    st->changed = bound && st->active && differs;
    if (differs || bound != st->active) st->last_change = when ? when : now_time();
    st->x = x;
    st->y = y;
    st->active = bound;
}

XrResult xrSyncActions(XrSession session, const XrActionsSyncInfo *info) {
    ENTER();
    CHECK(check_session(session));
    for (uint32_t i = 0; i < info->countActiveActionSets; i++) {
        const ActionSet *s = info->activeActionSets[i].actionSet
                                 ? FIND(rt.sets, info->activeActionSets[i].actionSet)
                                 : NULL;
        if (!s) return XR_ERROR_HANDLE_INVALID;
        if (!s->attached) return XR_ERROR_ACTIONSET_NOT_ATTACHED;
    }
    int focused = rt.session.state == XR_SESSION_STATE_FOCUSED;
    for (int k = 0; k < MAX_ACTIONS; k++) {
        Action *a = &rt.actions[k];
        if (!a->handle) continue;
        int active = 0;
        XrPath filter = XR_NULL_PATH;
        for (uint32_t i = 0; i < info->countActiveActionSets && focused; i++)
            if ((uint64_t)info->activeActionSets[i].actionSet == a->set) {
                active = 1;
                filter = info->activeActionSets[i].subactionPath;
            }
        for (uint32_t slot = 0; slot <= a->n_sub; slot++) update_state(a, (int)slot, filter,
                                                                        active);
    }
    return session_ok(focused ? XR_SUCCESS : XR_SESSION_NOT_FOCUSED);
}

/* The synced state an action-state query asks for, checked. */
static XrResult get_state(XrSession session, const XrActionStateGetInfo *info,
                          XrActionType type, const ActionState **out) {
    CHECK(check_session(session));
    Action *a = info->action ? FIND(rt.actions, info->action) : NULL;
    if (!a) return XR_ERROR_HANDLE_INVALID;
    if (a->type != type) return XR_ERROR_ACTION_TYPE_MISMATCH;
    if (!FIND(rt.sets, a->set)->attached) return XR_ERROR_ACTIONSET_NOT_ATTACHED;
    int slot = info->subactionPath == XR_NULL_PATH ? 0 : -1;
    for (uint32_t i = 0; i < a->n_sub; i++)
        if (a->sub[i] == info->subactionPath) slot = (int)i + 1;
    if (slot < 0) return XR_ERROR_PATH_UNSUPPORTED;
    *out = &a->state[slot];
    return XR_SUCCESS;
}

XrResult xrGetActionStateBoolean(XrSession session, const XrActionStateGetInfo *info,
                                 XrActionStateBoolean *state) {
    ENTER();
    const ActionState *st;
    CHECK(get_state(session, info, XR_ACTION_TYPE_BOOLEAN_INPUT, &st));
    state->currentState = st->x != 0;
    state->changedSinceLastSync = st->changed;
    state->lastChangeTime = st->last_change;
    state->isActive = st->active;
    return session_ok(XR_SUCCESS);
}

XrResult xrGetActionStateFloat(XrSession session, const XrActionStateGetInfo *info,
                               XrActionStateFloat *state) {
    ENTER();
    const ActionState *st;
    CHECK(get_state(session, info, XR_ACTION_TYPE_FLOAT_INPUT, &st));
    state->currentState = st->x;
    state->changedSinceLastSync = st->changed;
    state->lastChangeTime = st->last_change;
    state->isActive = st->active;
    return session_ok(XR_SUCCESS);
}

XrResult xrGetActionStateVector2f(XrSession session, const XrActionStateGetInfo *info,
                                  XrActionStateVector2f *state) {
    ENTER();
    const ActionState *st;
    CHECK(get_state(session, info, XR_ACTION_TYPE_VECTOR2F_INPUT, &st));
    state->currentState = (XrVector2f){st->x, st->y};
    state->changedSinceLastSync = st->changed;
    state->lastChangeTime = st->last_change;
    state->isActive = st->active;
    return session_ok(XR_SUCCESS);
}

XrResult xrGetActionStatePose(XrSession session, const XrActionStateGetInfo *info,
                              XrActionStatePose *state) {
    ENTER();
    const ActionState *st;
    CHECK(get_state(session, info, XR_ACTION_TYPE_POSE_INPUT, &st));
    state->isActive = st->active;
    return session_ok(XR_SUCCESS);
}

/* An action space's pose: the first live pose binding of the action (under `sub`), if the
 * action was active at the last sync. */
int action_pose(uint64_t action, XrPath sub, XrTime time, XrPosef *out) {
    *out = POSE_IDENTITY;
    const Action *a = FIND(rt.actions, action);
    if (!a) return 0;
    int slot = 0;
    for (uint32_t i = 0; i < a->n_sub; i++)
        if (a->sub[i] == sub) slot = (int)i + 1;
    if (!a->state[slot].active) return 0;
    for (uint32_t i = 0; i < rt.n_bindings; i++) {
        const Binding *b = &rt.bindings[i];
        const char *s = path_string(b->binding);
        if (b->action == action && binding_live(b) && (!sub || under(s, sub)))
            return device_pose(s, time, out);
    }
    return 0;
}

XrResult xrEnumerateBoundSourcesForAction(XrSession session,
                                          const XrBoundSourcesForActionEnumerateInfo *info,
                                          uint32_t capacity, uint32_t *count_out,
                                          XrPath *sources) {
    ENTER();
    CHECK(check_session(session));
    const Action *a = info->action ? FIND(rt.actions, info->action) : NULL;
    if (!a) return XR_ERROR_HANDLE_INVALID;
    if (!FIND(rt.sets, a->set)->attached) return XR_ERROR_ACTIONSET_NOT_ATTACHED;
    uint32_t n = 0;
    for (int pass = 0; pass < 2; pass++) { /* count, then fill */
        if (pass) CHECK(two_call(capacity, count_out, n));
        if (pass && !capacity) break;
        n = 0;
        for (uint32_t i = 0; i < rt.n_bindings; i++)
            if (rt.bindings[i].action == a->handle && binding_live(&rt.bindings[i])) {
                if (pass) sources[n] = rt.bindings[i].binding;
                n++;
            }
    }
    return session_ok(XR_SUCCESS);
}

static XrResult haptic(XrSession session, const XrHapticActionInfo *info) {
    CHECK(check_session(session));
    const Action *a = info->action ? FIND(rt.actions, info->action) : NULL;
    if (!a) return XR_ERROR_HANDLE_INVALID;
    if (a->type != XR_ACTION_TYPE_VIBRATION_OUTPUT) return XR_ERROR_ACTION_TYPE_MISMATCH;
    if (!FIND(rt.sets, a->set)->attached) return XR_ERROR_ACTIONSET_NOT_ATTACHED;
    return session_ok(rt.session.state == XR_SESSION_STATE_FOCUSED ? XR_SUCCESS
                                                                    : XR_SESSION_NOT_FOCUSED);
}

XrResult xrApplyHapticFeedback(XrSession session, const XrHapticActionInfo *info,
                               const XrHapticBaseHeader *feedback) {
    ENTER();
    (void)feedback; /* accepted and dropped: there is nothing to vibrate */
    return haptic(session, info);
}

XrResult xrStopHapticFeedback(XrSession session, const XrHapticActionInfo *info) {
    ENTER();
    return haptic(session, info);
}

/* ---- XR_EXT_hand_tracking ------------------------------------------------------------- */
XrResult xrCreateHandTrackerEXT(XrSession session, const XrHandTrackerCreateInfoEXT *info,
                                XrHandTrackerEXT *out) {
    ENTER();
    CHECK(check_session(session));
    if (info->hand != XR_HAND_LEFT_EXT && info->hand != XR_HAND_RIGHT_EXT)
        return XR_ERROR_VALIDATION_FAILURE;
    HandTracker *h = FREE_SLOT(rt.hand_trackers);
    if (!h) return XR_ERROR_LIMIT_REACHED;
    *h = (HandTracker){new_handle(), info->hand == XR_HAND_RIGHT_EXT};
    *out = (XrHandTrackerEXT)h->handle;
    return session_ok(XR_SUCCESS);
}

XrResult xrDestroyHandTrackerEXT(XrHandTrackerEXT tracker) {
    ENTER_ALWAYS();
    HandTracker *h = tracker ? FIND(rt.hand_trackers, tracker) : NULL;
    if (!h) return XR_ERROR_HANDLE_INVALID;
    memset(h, 0, sizeof *h);
    return XR_SUCCESS;
}

XrResult xrLocateHandJointsEXT(XrHandTrackerEXT tracker, const XrHandJointsLocateInfoEXT *info,
                               XrHandJointLocationsEXT *locations) {
    ENTER();
    const HandTracker *h = tracker ? FIND(rt.hand_trackers, tracker) : NULL;
    const Space *base = info->baseSpace ? FIND(rt.spaces, info->baseSpace) : NULL;
    if (!h || !base) return XR_ERROR_HANDLE_INVALID;
    CHECK(check_session((XrSession)rt.session.handle));
    if (info->time <= 0) return XR_ERROR_TIME_INVALID;
    XrHandJointVelocitiesEXT *vel =
        struct_in_chain(locations->next, XR_TYPE_HAND_JOINT_VELOCITIES_EXT);
    if (locations->jointCount != XRT_JOINTS || (vel && vel->jointCount != XRT_JOINTS))
        return XR_ERROR_VALIDATION_FAILURE;
    int i = replay_index(&rt.replay, info->time);
    XrPosef pb;
    int active = i >= 0 && rt.replay.joints[h->hand] && rt.replay.hand_valid[h->hand][i] &&
                 locate_in_stage(base, info->time, &pb);
    const double *joints = active ? rt.replay.joints[h->hand] + (size_t)i * XRT_JOINTS * 7
                                  : NULL;
    for (int j = 0; j < XRT_JOINTS; j++) {
        XrHandJointLocationEXT *l = &locations->jointLocations[j];
        XrPosef p;
        int ok = joints && sample_pose(joints, NULL, j, &p);
        active &= ok;
        l->pose = ok ? pose_mul(pose_inv(pb), p) : POSE_IDENTITY;
        l->radius = 0.01f; /* one radius for every joint */
        l->locationFlags = ok ? (XR_SPACE_LOCATION_ORIENTATION_VALID_BIT |
                                 XR_SPACE_LOCATION_POSITION_VALID_BIT |
                                 XR_SPACE_LOCATION_ORIENTATION_TRACKED_BIT |
                                 XR_SPACE_LOCATION_POSITION_TRACKED_BIT)
                              : 0;
        if (vel) vel->jointVelocities[j].velocityFlags = 0; /* velocities are not reported */
    }
    if (!active)
        for (int j = 0; j < XRT_JOINTS; j++) locations->jointLocations[j].locationFlags = 0;
    locations->isActive = active ? XR_TRUE : XR_FALSE;
    return session_ok(XR_SUCCESS);
}

/* ---- XR_HTCX_vive_tracker_interaction: one tracker per role the replay has ------------- */
static XrViveTrackerPathsHTCX tracker_paths[XRT_ROLES]; /* pointed to by connect events */

static uint32_t trackers_present(void) {
    uint32_t n = 0;
    char path[128];
    for (int r = 0; r < XRT_ROLES; r++) {
        if (!rt.replay.tracker[r]) continue;
        tracker_paths[n].type = XR_TYPE_VIVE_TRACKER_PATHS_HTCX;
        tracker_paths[n].next = NULL;
        snprintf(path, sizeof path, "/devices/vrgmi/tracker_%s", xrt_roles[r]);
        tracker_paths[n].persistentPath = path_intern(path);
        snprintf(path, sizeof path, TRACKER_USER "%s", xrt_roles[r]);
        tracker_paths[n++].rolePath = path_intern(path);
    }
    return n;
}

void queue_tracker_events(void) {
    if (!(rt.enabled & EXT_TRACKER)) return;
    uint32_t n = trackers_present();
    for (uint32_t i = 0; i < n; i++) {
        XrEventDataViveTrackerConnectedHTCX ev = {XR_TYPE_EVENT_DATA_VIVE_TRACKER_CONNECTED_HTCX,
                                                  NULL, &tracker_paths[i]};
        push_event(&ev, sizeof ev);
    }
}

XrResult xrEnumerateViveTrackerPathsHTCX(XrInstance instance, uint32_t capacity,
                                         uint32_t *count_out, XrViveTrackerPathsHTCX *paths) {
    ENTER();
    CHECK(check_instance(instance));
    uint32_t n = trackers_present();
    CHECK(two_call(capacity, count_out, n));
    for (uint32_t i = 0; i < n && capacity; i++) {
        paths[i].persistentPath = tracker_paths[i].persistentPath;
        paths[i].rolePath = tracker_paths[i].rolePath;
    }
    return XR_SUCCESS;
}

/* ---- the event script ------------------------------------------------------------------ */
/* Applies (or with dry_run only checks) one directive at `frame`. */
int directive_apply(const char *text, int64_t frame, int dry_run) {
    char verb[32] = "", arg[XR_MAX_PATH_LENGTH] = "", extra[2] = "";
    float value = 0;
    int n = sscanf(text, " %31s %255s %f %1s", verb, arg, &value, extra);
    Session *s = &rt.session;
    static const char *const states[] = {"SYNCHRONIZED", "VISIBLE", "FOCUSED"};
    if (n == 2 && !strcmp(verb, "state")) {
        for (int i = 0; i < 3; i++)
            if (!strcmp(arg, states[i])) {
                if (!dry_run) s->target = XR_SESSION_STATE_SYNCHRONIZED + i;
                return 0;
            }
    } else if (n == 1 && !strcmp(verb, "exit")) {
        if (!dry_run) stop_session();
        return 0;
    } else if (n == 1 && !strcmp(verb, "loss_pending")) {
        if (!dry_run && s->handle && !s->loss_pending) {
            s->loss_pending = 1;
            set_state(XR_SESSION_STATE_LOSS_PENDING);
        }
        return 0;
    } else if (n == 1 && !strcmp(verb, "instance_loss")) {
        if (!dry_run && !rt.loss_time) {
            rt.loss_time = frame_time(frame + 1);
            XrEventDataInstanceLossPending ev = {XR_TYPE_EVENT_DATA_INSTANCE_LOSS_PENDING, NULL,
                                                 rt.loss_time};
            push_event(&ev, sizeof ev);
        }
        return 0;
    } else if (n == 1 && !strcmp(verb, "vanish")) {
        rt.vanished |= !dry_run;
        return 0;
    } else if (n == 3 && !strcmp(verb, "input") && arg[0] == '/' && isfinite(value)) {
        if (dry_run) return 0;
        Input *in = find_input(arg);
        if (!in && rt.n_inputs < MAX_INPUTS) in = &rt.inputs[rt.n_inputs++];
        if (!in) return -1;
        snprintf(in->path, sizeof in->path, "%s", arg);
        in->value = value;
        in->time = frame_time(frame);
        return 0;
    } else if (n == 2 && !strcmp(verb, "profile") && !strncmp(arg, "/interaction_profiles/", 22)) {
        if (!dry_run) {
            snprintf(rt.profile, sizeof rt.profile, "%s", arg);
            rt.hand_profile = path_intern(arg);
            profile_changed_event();
        }
        return 0;
    }
    xrt_error("bad directive '%s' (see tests/xr_runtime/README.md)", text);
    return -1;
}

int script_load(const char *path) {
    rt.n_directives = rt.applied = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        xrt_error("%s: cannot be opened", path);
        return -1;
    }
    char line[512];
    int lineno = 0, rc = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "#\r\n")] = 0;
        char *rest;
        long long frame = strtoll(line, &rest, 10);
        if (rest == line) {
            rc = strspn(line, " \t") == strlen(line) ? 0 : -1; /* blank or comment */
            if (rc) xrt_error("%s:%d: a line starts with its frame index", path, lineno);
            continue;
        }
        if (frame < 0 || rt.n_directives == MAX_DIRECTIVES || directive_apply(rest, 0, 1)) {
            xrt_error("%s:%d: bad line '%s'", path, lineno, line);
            rc = -1;
            continue;
        }
        uint32_t i = rt.n_directives++; /* insertion sort, stable: same-frame lines in order */
        for (; i > 0 && rt.directives[i - 1].frame > frame; i--)
            rt.directives[i] = rt.directives[i - 1];
        rt.directives[i].frame = frame;
        snprintf(rt.directives[i].text, sizeof rt.directives[i].text, "%s", rest);
    }
    fclose(f);
    return rc;
}

void run_directives(int64_t frame) {
    while (rt.applied < rt.n_directives && rt.directives[rt.applied].frame <= frame)
        directive_apply(rt.directives[rt.applied++].text, frame, 0);
}

void input_reset(void) {
    memset(rt.sets, 0, sizeof rt.sets);
    memset(rt.actions, 0, sizeof rt.actions);
    rt.n_bindings = 0;
}
