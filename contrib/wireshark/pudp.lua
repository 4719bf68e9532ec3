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
--   pudp_blast  pudp blast: the 24-byte segment header (magic 0xB1A5) of UDP
--               datagrams and TCP stream segments, the request and answer
--               lines over TCP, and the classic 2015 text requests. On the
--               port of the preference pudp_blast.port (5201, the port
--               docs/blast.md uses) over UDP and TCP, on any UDP port by its
--               magic (heuristic), or forced with `-d udp.port==N,pudp_blast`
--               / `-d tcp.port==N,pudp_blast`.
--
-- Use:   tshark -X lua_script:contrib/wireshark/pudp.lua -r capture.pcap
-- or copy this file into Wireshark's personal plugins folder
-- (Help > About Wireshark > Folders > Personal Lua Plugins).
--
-- The wire formats are the ones in lib/pudp/wire.ts, lib/ids/wire.ts,
-- lib/frame/wire.ts and lib/blast/wire.ts; tests/contrib/wireshark_test.ts
-- checks this file against captures of the real commands.

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

---------------------------------------------------------------------------
-- blast (lib/blast/wire.ts): a 24-byte segment header, big-endian,
--   0 magic 0xB1A5 (2) | 2 type (1) | 3 zero (1) | 4 run id (4) | 8 seq (4)
--   | 12 total (4) | 16 sent, ms since the Unix epoch (IEEE 754 double, 8)
-- then the body; request and answer lines over TCP; and the classic 2015
-- text requests (no line end; lib/blast/classic_wire.ts): "N",
-- "stream-<ms>-<count>-<size>", or any other text (an echo), answered
-- "file_prepared" and N bytes of "A", chunks of "A", or the text upper-cased.
---------------------------------------------------------------------------

local BLAST_MAGIC = 0xB1A5
local BLAST_HEADER = 24
local BLAST_DEFAULT_PORT = 5201 -- the port docs/blast.md runs its server on
local BLAST_DEFAULT_SIZE = 1400

local blast = Proto("pudp_blast", "pudp blast")

local blast_types = {
  [1] = "REQUEST", [2] = "ACCEPT", [3] = "REFUSE", [4] = "DATA", [5] = "END",
  [6] = "END_ACK", [7] = "REPORT", [8] = "ECHO", [9] = "CHALLENGE", [10] = "ACK",
}

local bf = {
  magic = ProtoField.uint16("pudp_blast.magic", "Magic", base.HEX, { [0xB1A5] = "blast" }),
  type = ProtoField.uint8("pudp_blast.type", "Type", base.DEC, blast_types),
  reserved = ProtoField.uint8("pudp_blast.reserved", "Reserved (0)", base.DEC),
  run = ProtoField.uint32("pudp_blast.run", "Run id", base.HEX),
  seq = ProtoField.uint32("pudp_blast.seq", "Sequence number", base.DEC),
  total = ProtoField.uint32("pudp_blast.total", "Total segments", base.DEC),
  sent = ProtoField.double("pudp_blast.sent", "Sent (ms since the Unix epoch)"),
  sent_time = ProtoField.absolute_time("pudp_blast.sent_time", "Sent at", base.UTC),
  age = ProtoField.double("pudp_blast.age", "Captured after sent (ms)"),
  body_length = ProtoField.uint32("pudp_blast.body_length", "Body length", base.DEC),
  data = ProtoField.bytes("pudp_blast.data", "Pattern bytes"),
  pattern_length = ProtoField.uint32("pudp_blast.pattern_length", "Pattern bytes", base.DEC),
  line = ProtoField.string("pudp_blast.line", "Line", base.UNICODE),
  request = ProtoField.string("pudp_blast.request", "Request", base.UNICODE),
  verb = ProtoField.string("pudp_blast.verb", "Verb"),
  text = ProtoField.string("pudp_blast.text", "Echo text", base.UNICODE),
  bytes = ProtoField.uint64("pudp_blast.bytes", "Bytes", base.DEC),
  count = ProtoField.uint32("pudp_blast.count", "Count", base.DEC),
  interval = ProtoField.double("pudp_blast.interval", "Interval (ms)"),
  time = ProtoField.uint32("pudp_blast.time", "Time (ms)", base.DEC),
  size = ProtoField.uint32("pudp_blast.size", "Segment size", base.DEC),
  rate = ProtoField.uint64("pudp_blast.rate", "Rate (bit/s)", base.DEC),
  token = ProtoField.string("pudp_blast.token", "Token"),
  reason = ProtoField.string("pudp_blast.reason", "Reason", base.UNICODE),
  report = ProtoField.string("pudp_blast.report", "Report (JSON)", base.UNICODE),
  classic_kind = ProtoField.string("pudp_blast.classic.kind", "Classic message"),
  classic_n = ProtoField.uint64("pudp_blast.classic.n", "File size", base.DEC),
  classic_ms = ProtoField.uint32("pudp_blast.classic.ms", "Interval (ms)", base.DEC),
  classic_count = ProtoField.uint32("pudp_blast.classic.count", "Count", base.DEC),
  classic_size = ProtoField.uint32("pudp_blast.classic.size", "Size", base.DEC),
  classic_text = ProtoField.string("pudp_blast.classic.text", "Text"),
  classic_fill = ProtoField.uint32("pudp_blast.classic.fill", "Bytes of A", base.DEC),
}
blast.fields = bf

local be = {
  short = ProtoExpert.new("pudp_blast.short", "Shorter than the 24-byte blast header",
    expert.group.MALFORMED, expert.severity.ERROR),
  unknown_type = ProtoExpert.new("pudp_blast.unknown_type", "Unknown blast segment type",
    expert.group.PROTOCOL, expert.severity.WARN),
  reserved = ProtoExpert.new("pudp_blast.reserved_nonzero", "Byte 3 of the header is not 0",
    expert.group.PROTOCOL, expert.severity.NOTE),
  body = ProtoExpert.new("pudp_blast.unexpected_body",
    "Bytes after the header of a type that carries none", expert.group.PROTOCOL,
    expert.severity.NOTE),
  malformed = ProtoExpert.new("pudp_blast.malformed", "Not a blast request or answer",
    expert.group.MALFORMED, expert.severity.WARN),
}
blast.experts = be

blast.prefs.port = Pref.uint("Port (UDP and TCP)", BLAST_DEFAULT_PORT,
  "The blast server's port: its UDP datagrams and TCP connections are pudp blast, "
    .. "and printable text without a blast header there is a classic request or answer")

local function clip(text)
  if #text > 60 then return text:sub(1, 60) .. "…" end
  return text
end

-- The printable ASCII a classic message is (tab, CR and LF allowed too).
local function printable(raw)
  return #raw > 0 and not raw:find("[^\t\r\n -~]")
end

-- A string field for `range` from byte `from` on (an empty one when nothing is left).
local function add_rest(item, field, range, from)
  if range:len() > from then
    return item:add_packet_field(field, range(from, range:len() - from), ENC_UTF_8)
  end
  return item:add(field, range, "")
end

-- A request line (ECHO / GET / PUT) in `range`: its fields under `item`.
-- Returns the transfer it asks for ({direction, count, size}) or nil.
local function blast_request(range, text, item)
  if text == "ECHO" or text:sub(1, 5) == "ECHO " then
    item:add(bf.verb, range(0, 4), "ECHO")
    add_rest(item, bf.text, range, 5)
    return nil
  end
  local words = {}
  for at, word in text:gmatch("()(%S+)") do words[#words + 1] = { at - 1, word } end
  local verb = words[1] and words[1][2]
  if verb ~= "GET" and verb ~= "PUT" then
    item:add_proto_expert_info(be.malformed)
    return nil
  end
  item:add(bf.verb, range(words[1][1], 3), verb)
  local transfer = { direction = verb:lower(), size = BLAST_DEFAULT_SIZE }
  for i = 2, #words do
    local at, word = words[i][1], words[i][2]
    local key, value = word:match("^(%l+)=(.+)$")
    local r = key and range(at + #key + 1, #value)
    local number = value and value:match("^%d+$") and tonumber(value)
    if key == "bytes" and number then
      item:add(bf.bytes, r, UInt64.new(value))
      transfer.bytes = number
    elseif key == "count" and number then
      item:add(bf.count, r, number)
      transfer.count = number
    elseif key == "size" and number then
      item:add(bf.size, r, number)
      transfer.size = number
    elseif key == "rate" and number then
      item:add(bf.rate, r, UInt64.new(value))
    elseif key == "time" and number then
      item:add(bf.time, r, number)
      transfer.time = number
    elseif key == "interval" and value:match("^%d+%.?%d*$") then
      item:add(bf.interval, r, tonumber(value))
    elseif key == "token" and value:match("^%x+$") then
      item:add(bf.token, r, value)
    else
      item:add_proto_expert_info(be.malformed)
    end
  end
  local amounts = (transfer.bytes and 1 or 0) + (transfer.count and 1 or 0)
    + (transfer.time and 1 or 0)
  if amounts ~= 1 then item:add_proto_expert_info(be.malformed) end
  return transfer
end

-- One segment (header and body) of `len` bytes at `offset`; returns the Info text.
local function blast_segment(tvb, offset, len, pinfo, tree)
  local r = tvb(offset, len)
  local item = tree:add(blast, r, "pudp blast")
  if len < BLAST_HEADER then
    if len >= 2 then item:add(bf.magic, r(0, 2)) end
    if len >= 3 then item:add(bf.type, r(2, 1)) end
    item:add_proto_expert_info(be.short)
    return string.format("short segment (%d of 24 header bytes)", len)
  end
  item:add(bf.magic, r(0, 2))
  local t = r(2, 1):uint()
  local titem = item:add(bf.type, r(2, 1))
  local name = blast_types[t]
  if name == nil then
    name = "TYPE" .. t
    titem:add_proto_expert_info(be.unknown_type)
  end
  local ritem = item:add(bf.reserved, r(3, 1))
  if r(3, 1):uint() ~= 0 then ritem:add_proto_expert_info(be.reserved) end
  local run, seq, total = r(4, 4):uint(), r(8, 4):uint(), r(12, 4):uint()
  item:add(bf.run, r(4, 4))
  item:add(bf.seq, r(8, 4))
  item:add(bf.total, r(12, 4))
  local sent = r(16, 8):float()
  item:add(bf.sent, r(16, 8))
  if sent > 0 and sent < 1e15 then
    local secs = math.floor(sent / 1000)
    local nsecs = math.floor((sent - secs * 1000) * 1e6)
    item:add(bf.sent_time, r(16, 8), NSTime.new(secs, nsecs)):set_generated()
    item:add(bf.age, r(16, 8), pinfo.abs_ts * 1000 - sent):set_generated()
  end
  local n = len - BLAST_HEADER
  item:add(bf.body_length, n):set_generated()
  local info = string.format("%s run=0x%08x seq=%d total=%d", name, run, seq, total)
  local body = n > 0 and r(BLAST_HEADER, n) or nil
  local text = body and body:string(ENC_UTF_8) or ""
  if t == 1 then -- REQUEST: the request line
    if body then
      item:add_packet_field(bf.request, body, ENC_UTF_8)
      blast_request(body, text, item)
    else
      item:add_proto_expert_info(be.malformed)
    end
    info = info .. string.format(" %q", clip(text))
  elseif t == 3 then -- REFUSE: the reason
    if body then item:add_packet_field(bf.reason, body, ENC_UTF_8) end
    info = info .. string.format(" %q", clip(text))
  elseif t == 4 then -- DATA: pattern bytes
    if body then item:add(bf.data, body) end
    info = info .. " len=" .. n
  elseif t == 5 or t == 7 then -- END, REPORT: figures as JSON
    if body then item:add_packet_field(bf.report, body, ENC_UTF_8) end
    if body then info = info .. " " .. clip(text) end
  elseif t == 8 then -- ECHO: the echoed text
    if body then
      item:add_packet_field(bf.text, body, ENC_UTF_8)
    else
      item:add(bf.text, r, "")
    end
    info = info .. string.format(" %q", clip(text))
  elseif t == 9 then -- CHALLENGE: the token
    if body then item:add(bf.token, body, text) end
    info = info .. " token=" .. text
  elseif body and blast_types[t] then -- ACCEPT, END_ACK, ACK carry nothing
    item:add_proto_expert_info(be.body)
  end
  item:append_text(", " .. info)
  return info
end

-- A classic message (the whole payload, printable text); `to_server` says
-- which way it goes. Returns the Info text.
local function blast_classic(tvb, pinfo, tree, to_server)
  local raw = tvb:raw()
  local text = raw:gsub("[\r\n]+$", "")
  local item = tree:add(blast, tvb(), "pudp blast, classic")
  local r = tvb(0, math.max(#text, 1))
  local kind
  if to_server then
    local ms, count, size = text:match("^stream%-(%d+)%-(%d+)%-(%d+)$")
    if text:match("^%d+$") then
      kind = "file"
      item:add(bf.classic_n, r, UInt64.new(text))
    elseif ms then
      kind = "stream"
      item:add(bf.classic_ms, r(7, #ms), tonumber(ms))
      item:add(bf.classic_count, r(8 + #ms, #count), tonumber(count))
      item:add(bf.classic_size, r(9 + #ms + #count, #size), tonumber(size))
    else
      kind = "echo"
    end
  elseif text:match("^file_prepared") and not text:find("[^A]", 14) then
    kind = "file_prepared" -- and, over TCP, maybe the file's first bytes
    if #text > 13 then item:add(bf.classic_fill, r(13, #text - 13), #text - 13) end
    text = "file_prepared"
  elseif not text:find("[^A]") then
    kind = "fill" -- a file's or a stream's bytes (or the echo of a's)
    item:add(bf.classic_fill, r, #text)
  elseif text == text:upper() then
    kind = "echo-reply"
  else
    kind = "reply"
  end
  item:add(bf.classic_kind, r, kind)
  local info
  if kind == "fill" then
    info = string.format("classic fill len=%d", #text)
  else
    item:add(bf.classic_text, r(0, math.max(#text, 1)), text)
    info = string.format("classic %s %q", kind, clip(text))
  end
  item:append_text(": " .. info)
  return info
end

-- The server's port for a packet: the port the dissector table matched
-- (the preference or a -d), else the preference.
local function blast_server_port(pinfo)
  local m = pinfo.match_uint
  if m ~= nil and m ~= 0 and (m == pinfo.src_port or m == pinfo.dst_port) then return m end
  return blast.prefs.port
end

-- TCP connections: tcp.stream -> the transfer its request line asked for
-- ({direction, count, size, time, req_frame, ok_frame, end_frame}); after
-- it (and the OK, for a GET) the sender's bytes are segments of `size`
-- bytes (count=) or pattern bytes, which have no line end: a "\n" after
-- them (a timed run's) ends them, and a DONE line follows.
local blast_tcp_runs = {}
function blast.init() blast_tcp_runs = {} end

-- One TCP line: a request from the client, an answer from the server.
-- Returns the Info text and whether the rest of this side's bytes are data.
local function blast_line(range, text, pinfo, tree, to_server, stream)
  local item = tree:add(blast, range, "pudp blast: " .. clip(text))
  item:add_packet_field(bf.line, range, ENC_UTF_8)
  local run = blast_tcp_runs[stream]
  local verb = text:match("^(%u+)") or ""
  if verb == "DONE" then -- a receiver's report, or a timed sender's figures
    item:add(bf.verb, range(0, 4), verb)
    add_rest(item, bf.report, range, 5)
    return clip(text), false
  end
  if to_server then
    local transfer = blast_request(range, text, item)
    if transfer then
      if run == nil or pinfo.number < run.req_frame then
        transfer.req_frame = pinfo.number
        blast_tcp_runs[stream] = transfer
      end
      return text, transfer.direction == "put"
    end
    return text, false
  end
  local bound = text:match("^OK bytes=(%d+)$")
  if text == "OK" or bound then
    item:add(bf.verb, range(0, 2), "OK")
    if bound then item:add(bf.bytes, range(9, #bound), UInt64.new(bound)) end
    if run and (run.ok_frame == nil or pinfo.number < run.ok_frame) then
      run.ok_frame = pinfo.number
    end
    return text, run ~= nil and run.direction == "get"
  elseif verb == "REFUSED" then
    item:add(bf.verb, range(0, 7), verb)
    add_rest(item, bf.reason, range, 8)
  elseif verb == "ECHO" and (text == "ECHO" or text:sub(5, 5) == " ") then
    item:add(bf.verb, range(0, 4), verb)
    add_rest(item, bf.text, range, 5)
  else
    item:add_proto_expert_info(be.malformed)
  end
  return clip(text), false
end

local function blast_tcp(tvb, pinfo, tree, stream)
  local len = tvb:len()
  local to_server = pinfo.dst_port == blast_server_port(pinfo)
  local run = blast_tcp_runs[stream]
  local in_data = false
  if run then
    if to_server then
      in_data = run.direction == "put" and run.req_frame < pinfo.number
    else
      in_data = run.direction == "get" and run.ok_frame ~= nil and run.ok_frame < pinfo.number
    end
    if run.end_frame ~= nil and run.end_frame < pinfo.number then in_data = false end
  end
  local raw = tvb:raw()
  if not in_data and not raw:find("\n", 1, true) then
    -- No line end: a classic message (bare text), or not blast at all.
    if not printable(raw) then return 0 end
    pinfo.cols.protocol = "blast"
    pinfo.cols.info = blast_classic(tvb, pinfo, tree, to_server)
    return len
  end
  pinfo.cols.protocol = "blast"
  local infos = {}
  local offset = 0
  while offset < len do
    if in_data and run.count then -- a stream of segments of run.size bytes
      local left = len - offset
      if left < run.size then
        pinfo.desegment_offset = offset
        pinfo.desegment_len = run.size - left
        break
      end
      infos[#infos + 1] = blast_segment(tvb, offset, run.size, pinfo, tree)
      offset = offset + run.size
    elseif in_data then -- pattern bytes, up to a "\n" (the end of a timed run's)
      local nl = raw:find("\n", offset + 1, true)
      local n = (nl or len + 1) - 1 - offset
      if n > 0 then
        local item = tree:add(blast, tvb(offset, n), "pudp blast, pattern bytes")
        item:add(bf.pattern_length, tvb(offset, n), n)
        infos[#infos + 1] = string.format("pattern len=%d", n)
      end
      offset = offset + n
      if nl then
        if run.end_frame == nil or pinfo.number < run.end_frame then
          run.end_frame = pinfo.number
        end
        in_data = false
        offset = offset + 1
      end
    else
      local nl = raw:find("\n", offset + 1, true) -- 1-based: nl is the line's end offset
      if nl == nil then
        pinfo.desegment_offset = offset
        pinfo.desegment_len = DESEGMENT_ONE_MORE_SEGMENT
        break
      end
      local n = without_line_end(tvb, offset, nl - offset)
      if n > 0 then
        local range = tvb(offset, n)
        local info
        info, in_data = blast_line(range, raw:sub(offset + 1, offset + n), pinfo, tree, to_server,
          stream)
        infos[#infos + 1] = info
        run = blast_tcp_runs[stream]
      end
      offset = nl
    end
  end
  if #infos > 4 then
    infos = { infos[1], string.format("… (%d more)", #infos - 2), infos[#infos] }
  end
  if #infos > 0 then pinfo.cols.info = table.concat(infos, "; ") end
  return len
end

local function is_blast_header(tvb)
  return tvb:len() >= 2 and tvb(0, 2):uint() == BLAST_MAGIC
end

function blast.dissector(tvb, pinfo, tree)
  local stream = tcp_stream_field()
  if stream then return blast_tcp(tvb, pinfo, tree, stream.value) end
  local len = tvb:len()
  if is_blast_header(tvb) then
    pinfo.cols.protocol = "blast"
    pinfo.cols.info = blast_segment(tvb, 0, len, pinfo, tree)
    return len
  end
  local port = blast_server_port(pinfo)
  if (pinfo.dst_port == port or pinfo.src_port == port) and printable(tvb:raw()) then
    pinfo.cols.protocol = "blast"
    pinfo.cols.info = blast_classic(tvb, pinfo, tree, pinfo.dst_port == port)
    return len
  end
  return 0
end

-- Heuristic (any UDP port): the magic, a whole header and a known type.
local function blast_heuristic(tvb, pinfo, tree)
  if tvb:len() < BLAST_HEADER or not is_blast_header(tvb) then return false end
  if blast_types[tvb(2, 1):uint()] == nil then return false end
  pinfo.cols.protocol = "blast"
  pinfo.cols.info = blast_segment(tvb, 0, tvb:len(), pinfo, tree)
  return true
end

local udp_port_table = DissectorTable.get("udp.port")
local tcp_port_table = DissectorTable.get("tcp.port")
local blast_port = blast.prefs.port

function blast.prefs_changed()
  if blast.prefs.port == blast_port then return end
  if blast_port ~= 0 then
    udp_port_table:remove(blast_port, blast)
    tcp_port_table:remove(blast_port, blast)
  end
  blast_port = blast.prefs.port
  if blast_port ~= 0 then
    udp_port_table:add(blast_port, blast)
    tcp_port_table:add(blast_port, blast)
  end
end

blast:register_heuristic("udp", blast_heuristic)
udp_port_table:add(blast_port, blast)
tcp_port_table:add(blast_port, blast)
udp_port_table:add_for_decode_as(blast)
tcp_port_table:add_for_decode_as(blast)
