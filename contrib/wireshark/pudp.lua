-- Wireshark / tshark dissectors for pudp's protocols.
--
--   pudp        PUDP and the course's P0P over UDP (magic 0xC356 / 0xC461):
--               found on any UDP port by its magic (heuristic), or forced
--               with `-d udp.port==N,pudp`.
--   pudp_ids    the ids registry's text requests and replies, over UDP (a
--               datagram is a message) or TCP (a line is a message):
--               `-d udp.port==N,pudp_ids` or `-d tcp.port==N,pudp_ids`.
--   pudp_frame  frame's 4-byte length-prefixed messages over TCP, reassembled
--               across segments: `-d tcp.port==N,pudp_frame`.
--
-- Use:   tshark -X lua_script:contrib/wireshark/pudp.lua -r capture.pcap
-- or copy this file into Wireshark's personal plugins folder
-- (Help > About Wireshark > Folders > Personal Lua Plugins).
--
-- The wire formats are the ones in lib/pudp/wire.ts, lib/ids/wire.ts and
-- lib/frame/wire.ts; tests/contrib/wireshark_test.ts checks this file
-- against captures of the real commands.

---------------------------------------------------------------------------
-- PUDP
---------------------------------------------------------------------------

local PUDP_MAGIC = 0xC356
local P0P_MAGIC = 0xC461
local PUDP_VERSION = 1
local PUDP_HEADER = 12

local pudp = Proto("pudp", "PUDP session protocol")

local magic_names = { [PUDP_MAGIC] = "PUDP", [P0P_MAGIC] = "P0P" }
local command_names = { [0] = "HELLO", [1] = "DATA", [2] = "ALIVE", [3] = "GOODBYE" }

local pf = {
  magic = ProtoField.uint16("pudp.magic", "Magic", base.HEX, magic_names),
  version = ProtoField.uint8("pudp.version", "Version", base.DEC),
  command = ProtoField.uint8("pudp.command", "Command", base.DEC, command_names),
  seq = ProtoField.uint32("pudp.seq", "Sequence number", base.DEC),
  session = ProtoField.uint32("pudp.session", "Session id", base.HEX),
  payload = ProtoField.string("pudp.payload", "Payload", base.UNICODE),
  payload_length = ProtoField.uint32("pudp.payload_length", "Payload length", base.DEC),
}
pudp.fields = pf

local pe = {
  short = ProtoExpert.new("pudp.short", "Datagram shorter than the 12-byte PUDP header",
    expert.group.MALFORMED, expert.severity.ERROR),
  bad_version = ProtoExpert.new("pudp.bad_version", "Unknown PUDP version (expected 1)",
    expert.group.PROTOCOL, expert.severity.WARN),
  unknown_command = ProtoExpert.new("pudp.unknown_command", "Unknown PUDP command",
    expert.group.PROTOCOL, expert.severity.WARN),
  ignored_bytes = ProtoExpert.new("pudp.ignored_bytes",
    "Bytes after the header of a command other than DATA (ignored by PUDP peers)",
    expert.group.PROTOCOL, expert.severity.NOTE),
}
pudp.experts = pe

function pudp.dissector(tvb, pinfo, tree)
  local len = tvb:len()
  pinfo.cols.protocol = "PUDP"
  local subtree = tree:add(pudp, tvb(), "PUDP")
  if len < 2 then
    subtree:add_proto_expert_info(pe.short)
    pinfo.cols.info = "PUDP short datagram (" .. len .. " bytes)"
    return len
  end
  local magic = tvb(0, 2):uint()
  subtree:add(pf.magic, tvb(0, 2))
  if magic == P0P_MAGIC then
    pinfo.cols.protocol = "P0P"
    subtree:set_text("P0P (PUDP with the course's magic)")
  end
  if len < PUDP_HEADER then
    if len >= 3 then subtree:add(pf.version, tvb(2, 1)) end
    if len >= 4 then subtree:add(pf.command, tvb(3, 1)) end
    subtree:add_proto_expert_info(pe.short)
    pinfo.cols.info = "short datagram (" .. len .. " of 12 header bytes)"
    return len
  end

  local version = tvb(2, 1):uint()
  local command = tvb(3, 1):uint()
  local seq = tvb(4, 4):uint()
  local session = tvb(8, 4):uint()

  local vitem = subtree:add(pf.version, tvb(2, 1))
  if version ~= PUDP_VERSION then vitem:add_proto_expert_info(pe.bad_version) end
  local citem = subtree:add(pf.command, tvb(3, 1))
  local name = command_names[command]
  if name == nil then
    name = "CMD" .. command
    citem:add_proto_expert_info(pe.unknown_command)
  end
  subtree:add(pf.seq, tvb(4, 4))
  subtree:add(pf.session, tvb(8, 4))

  local info = string.format("%s seq=%d session=0x%08x", name, seq, session)
  if command == 1 then
    local n = len - PUDP_HEADER
    subtree:add(pf.payload_length, n):set_generated()
    if n > 0 then
      local range = tvb(PUDP_HEADER, n)
      subtree:add_packet_field(pf.payload, range, ENC_UTF_8)
      local text = range:string(ENC_UTF_8)
      if #text > 40 then text = text:sub(1, 40) .. "…" end
      info = info .. string.format(" len=%d %q", n, text)
    else
      info = info .. " len=0"
    end
  elseif len > PUDP_HEADER then
    subtree:add_proto_expert_info(pe.ignored_bytes)
  end
  if version ~= PUDP_VERSION then info = info .. " [version " .. version .. "]" end
  pinfo.cols.info = info
  subtree:append_text(string.format(", %s, Seq: %d, Session: 0x%08x", name, seq, session))
  return len
end

-- Heuristic: the first two bytes are one of the magics. The rest is checked
-- (and flagged) by the dissector, so a bad version or a short datagram is
-- still shown as PUDP with expert info rather than as unknown UDP data.
local function pudp_heuristic(tvb, pinfo, tree)
  if tvb:len() < 2 then return false end
  local magic = tvb(0, 2):uint()
  if magic ~= PUDP_MAGIC and magic ~= P0P_MAGIC then return false end
  pudp.dissector(tvb, pinfo, tree)
  return true
end

pudp:register_heuristic("udp", pudp_heuristic)
DissectorTable.get("udp.port"):add_for_decode_as(pudp)

---------------------------------------------------------------------------
-- ids (text: "HELLO <id>", "OK <id> <ip> <port>", "RESET <id>", "ERROR <reason>")
---------------------------------------------------------------------------

local ids = Proto("pudp_ids", "pudp ids registry")

local idf = {
  kind = ProtoField.string("pudp_ids.kind", "Kind"),
  id = ProtoField.string("pudp_ids.id", "Id"),
  ip = ProtoField.string("pudp_ids.ip", "Client address"),
  port = ProtoField.uint16("pudp_ids.port", "Client port", base.DEC),
  reason = ProtoField.string("pudp_ids.reason", "Reason"),
  text = ProtoField.string("pudp_ids.text", "Text"),
}
ids.fields = idf

-- Present when the message came over TCP (a line is a message there).
local tcp_stream_field = Field.new("tcp.stream")

local ide = {
  malformed = ProtoExpert.new("pudp_ids.malformed", "Not an ids request or reply",
    expert.group.MALFORMED, expert.severity.WARN),
}
ids.experts = ide

-- Decodes one message (`range` without its line ending) into `tree`.
local function ids_message(range, pinfo, tree)
  local text = range:string()
  local item = tree:add(ids, range, "ids: " .. text)
  item:add(idf.text, range)
  local kind, rest = text:match("^(%u+) ?(.*)$")
  if kind == nil then
    item:add_proto_expert_info(ide.malformed)
    return "malformed: " .. text
  end
  item:add(idf.kind, range(0, #kind), kind)
  local at = #kind + 1
  if kind == "HELLO" or kind == "RESET" then
    if rest == "" or rest:find(" ") then item:add_proto_expert_info(ide.malformed) end
    if rest ~= "" then item:add(idf.id, range(at, #rest), rest) end
  elseif kind == "OK" then
    local id, ip, port = rest:match("^(%S+) (%S+) (%d+)$")
    if id == nil then
      item:add_proto_expert_info(ide.malformed)
    else
      item:add(idf.id, range(at, #id), id)
      item:add(idf.ip, range(at + #id + 1, #ip), ip)
      item:add(idf.port, range(at + #id + #ip + 2, #port), tonumber(port))
    end
  elseif kind == "ERROR" then
    if rest ~= "" then item:add(idf.reason, range(at, #rest), rest) end
  else
    item:add_proto_expert_info(ide.malformed)
  end
  return text
end

-- The length of `range` without a trailing "\n" or "\r\n".
local function without_line_end(tvb, offset, len)
  if len > 0 and tvb(offset + len - 1, 1):uint() == 0x0a then len = len - 1 end
  if len > 0 and tvb(offset + len - 1, 1):uint() == 0x0d then len = len - 1 end
  return len
end

function ids.dissector(tvb, pinfo, tree)
  pinfo.cols.protocol = "ids"
  local len = tvb:len()
  local infos = {}
  if tcp_stream_field() then -- TCP: one message per line, reassembled
    local offset = 0
    while offset < len do
      local nl = -1
      for i = offset, len - 1 do
        if tvb(i, 1):uint() == 0x0a then nl = i; break end
      end
      if nl < 0 then
        pinfo.desegment_offset = offset
        pinfo.desegment_len = DESEGMENT_ONE_MORE_SEGMENT
        break
      end
      local n = without_line_end(tvb, offset, nl - offset + 1)
      if n > 0 then infos[#infos + 1] = ids_message(tvb(offset, n), pinfo, tree) end
      offset = nl + 1
    end
  else
    local n = without_line_end(tvb, 0, len)
    if n > 0 then infos[#infos + 1] = ids_message(tvb(0, n), pinfo, tree) end
  end
  if #infos > 0 then pinfo.cols.info = table.concat(infos, "; ") end
  return len
end

DissectorTable.get("udp.port"):add_for_decode_as(ids)
DissectorTable.get("tcp.port"):add_for_decode_as(ids)

---------------------------------------------------------------------------
-- frame (4-byte big-endian length, then that many bytes of UTF-8)
---------------------------------------------------------------------------

local frame = Proto("pudp_frame", "pudp frame messages")

local ff = {
  length = ProtoField.uint32("pudp_frame.length", "Length", base.DEC),
  payload = ProtoField.string("pudp_frame.payload", "Payload", base.UNICODE),
}
frame.fields = ff

local function frame_pdu_length(tvb, pinfo, offset)
  return 4 + tvb(offset, 4):uint()
end

local function frame_pdu(tvb, pinfo, tree)
  pinfo.cols.protocol = "frame"
  local n = tvb(0, 4):uint()
  local item = tree:add(frame, tvb(), string.format("frame message, %d bytes", n))
  item:add(ff.length, tvb(0, 4))
  local text = ""
  if n > 0 then
    item:add_packet_field(ff.payload, tvb(4, n), ENC_UTF_8)
    text = tvb(4, n):string(ENC_UTF_8)
    if #text > 40 then text = text:sub(1, 40) .. "…" end
  end
  local info = string.format("len=%d %q", n, text)
  local col = tostring(pinfo.cols.info)
  if col:find("^len=") then info = col .. "; " .. info end
  pinfo.cols.info = info
  return tvb:len()
end

function frame.dissector(tvb, pinfo, tree)
  dissect_tcp_pdus(tvb, tree, 4, frame_pdu_length, frame_pdu, true)
  return tvb:len()
end

DissectorTable.get("tcp.port"):add_for_decode_as(frame)
